using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

// Usage: NativeAot <plan> <tensors.safetensors> [tolerance]
// Loads a plan saved by `candle compile --no-codegen`, reads each of its inputs by name from the safetensors file,
// runs it, and prints each output's shape. Where the file also holds a tensor named like an output (a reference
// computed elsewhere, such as transformers' last_hidden_state), the largest absolute difference is printed and the
// program fails when it exceeds the tolerance (1e-4 by default).
// Exit codes: 0 ok, 1 an output differs from its reference, 2 usage or bad input.
if (args.Length is < 2 or > 3)
{
    Console.Error.WriteLine("usage: NativeAot <plan> <tensors.safetensors> [tolerance]");
    return 2;
}

double tolerance = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 1e-4;
var clock = Stopwatch.StartNew();
try
{
    using var plan = Plan.Load(args[0]);
    double loadMs = clock.Elapsed.TotalMilliseconds;
    using var file = SafeTensorsFile.Open(args[1]);
    var inputs = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
    foreach (var meta in plan.InputMetadata)
    {
        if (!file.Names.Contains(meta.Name)) throw new ArgumentException($"{args[1]}: no tensor '{meta.Name}' for the plan's input {meta}");
        var t = file.Get(meta.Name);
        inputs[meta.Name] = t.DType == meta.DType ? t : t.Cast(meta.DType);
    }

    var outputs = plan.Run(inputs);
    double runMs = clock.Elapsed.TotalMilliseconds - loadMs;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"plan {Path.GetFileName(args[0])}: {plan.Definition.Steps.Count} steps, dynamic code {(RuntimeFeature.IsDynamicCodeSupported ? "supported" : "unsupported")}, loaded in {loadMs:F1} ms, ran in {runMs:F1} ms"));
    bool ok = true;
    for (int o = 0; o < plan.OutputNames.Count; o++)
    {
        string name = plan.OutputNames[o];
        var y = outputs[name];
        string line = $"{name} [{string.Join(", ", y.Shape)}]";
        if (file.Names.Contains(name))
        {
            var expected = file.Get(name);
            if (!expected.Shape.SequenceEqual(y.Shape)) throw new ArgumentException($"{args[1]}: reference '{name}' has shape [{string.Join(", ", expected.Shape)}], the plan gave [{string.Join(", ", y.Shape)}]");
            double max = 0;
            for (long i = 0; i < expected.ElementCount; i++) max = Math.Max(max, Math.Abs(expected.GetDouble(i) - y.GetDouble(i)));
            bool close = max <= tolerance;
            ok &= close;
            line += string.Create(CultureInfo.InvariantCulture, $": max |difference| from the reference {max:E2} ({(close ? "ok" : "FAIL")}, tolerance {tolerance:G})");
        }

        Console.WriteLine(line);
    }

    return ok ? 0 : 1;
}
catch (Exception e) when (e is PlanFormatException or ArgumentException or IOException or NotSupportedException or KeyNotFoundException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
