using System.Globalization;
using Candle.Transformers.Generation;

// Usage: SavedLlm <compiled model directory> (<prompt text> | --prompt-ids 1,2,3) [max new tokens]
// Streams the greedy continuation, then prints "ids: ..." (the new token ids) and the Candle assemblies it loaded.
// Exit codes: 0 ok, 2 usage, 3 a compiler, Roslyn or ILGPU assembly was loaded.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: SavedLlm <model.cpl> (<prompt> | --prompt-ids 1,2,3) [max-new-tokens]");
    return 2;
}

bool ids = args[1] == "--prompt-ids";
int promptArgs = ids ? 3 : 2;
int maxNew = args.Length > promptArgs ? int.Parse(args[promptArgs], CultureInfo.InvariantCulture) : 32;
using var generator = CompiledLanguageModel.Load(args[0]);
var options = new GenerationOptions { MaxNewTokens = maxNew, Greedy = true };
var generated = new List<int>();
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var stream = ids
    ? generator.GenerateAsync([.. args[2].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))], options, cancel.Token)
    : generator.GenerateAsync(args[1], options, cancel.Token);
if (!ids) Console.Write(args[1]);
await foreach (var token in stream)
{
    generated.Add(token.Id);
    Console.Write(token.Text);
}

Console.WriteLine();
Console.WriteLine("ids: " + string.Join(' ', generated));
var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? string.Empty).ToList();
Console.WriteLine("assemblies: " + string.Join(", ", loaded.Where(n => n.StartsWith("Candle", StringComparison.Ordinal)).Order()));
return loaded.Any(n => n.StartsWith("Candle.Compiler", StringComparison.Ordinal) || n.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) || n.StartsWith("ILGPU", StringComparison.Ordinal))
    ? 3
    : 0;
