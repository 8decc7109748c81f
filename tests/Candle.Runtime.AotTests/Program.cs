using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

// Usage: Candle.Runtime.AotTests <plan file> <inputs.safetensors> <outputs.safetensors> [runs]
// Inputs are looked up by the plan's input names; outputs are written under the plan's output names.
// Exit codes: 0 ok, 2 usage, 3 a compiler assembly was loaded, 4 repeated runs disagreed.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Candle.Runtime.AotTests <plan> <inputs.safetensors> <outputs.safetensors> [runs]");
    return 2;
}

var plan = Plan.Load(args[0]);
using var inputFile = SafeTensorsFile.Open(args[1]);
var inputs = plan.InputNames.Select(inputFile.Get).ToArray();
int runs = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
var outputs = plan.Run(inputs);
for (int r = 1; r < runs; r++)
{
    var again = plan.Run(inputs);
    for (int o = 0; o < outputs.Length; o++)
    {
        if (!again[o].Data.Span.SequenceEqual(outputs[o].Data.Span))
        {
            Console.Error.WriteLine($"run {r} output {plan.OutputNames[o]} differs from run 0");
            return 4;
        }
    }
}

SafeTensorsWriter.Write(args[2], plan.OutputNames.Select((n, i) => new KeyValuePair<string, HostTensor>(n, outputs[i])));
var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? string.Empty).ToList();
foreach (var name in loaded)
{
    if (name.StartsWith("Candle.Compiler", StringComparison.Ordinal) || name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal))
    {
        Console.Error.WriteLine($"unexpected assembly loaded: {name}");
        return 3;
    }
}

Console.WriteLine($"ran {args[0]}: {plan.Definition.Steps.Count} steps, outputs {string.Join(", ", outputs.Select((t, i) => $"{plan.OutputNames[i]}{t}"))}");
Console.WriteLine("assemblies: " + string.Join(", ", loaded.Where(n => n.StartsWith("Candle", StringComparison.Ordinal)).Order()));
return 0;
