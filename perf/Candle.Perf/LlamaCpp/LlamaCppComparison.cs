using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Candle.Compiler.Backends;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>dotnet run -c Release --project perf/Candle.Perf -- llamacpp [--quick] [--reps N] [--out FILE]</c>: llama.cpp
/// (LLamaSharp) and Candle (<see cref="TextGenerator.Benchmark"/>) on the same GGUF files in one process, 2 threads
/// each, prefill of 128 tokens and decode of 64, as llama-bench measures (warm-up, then the median of repeats). The
/// peers alternate within each repeat so that both see the same load on a shared machine; the report gives each
/// median and the ratio Candle / llama.cpp.
/// </summary>
public static class LlamaCppComparison
{
    private static readonly int[] ThreadCounts = [2, 1];
    private const int Prompt = 128;
    private const int Gen = 64;
    private const int Context = 256;
    private const string KeepMarker = "<!-- notes below this line are kept when the benchmark rewrites the file -->";

    private sealed record Case(string Name, string Path, string Note);

    private sealed record Row(Case Case, int Threads, double CandlePp, double LlamaPp, double CandleTg, double LlamaTg, double PpRatio, double TgRatio, double LogitDiff, bool SameArgmax, double LoadSeconds);

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int reps = OptionValue(args, "--reps") is string r ? int.Parse(r, CultureInfo.InvariantCulture) : quick ? 2 : 7;
        string repo = RepoRoot();
        string output = OptionValue(args, "--out") ?? Path.Combine(repo, "perf", "Candle.Perf", "Results", "llamacpp.md");
        string fixture = Path.Combine(repo, "tests", "fixtures", "gguf", "llama-q8_0.gguf");
        string sharedF32 = Path.GetFullPath(Path.Combine(repo, "..", "shared", "refs", "gguf", "llama-f32.gguf"));
        string scratch = Path.Combine(Path.GetTempPath(), "candle-llamacpp-bench");

        var cases = new List<Case>();
        if (File.Exists(sharedF32)) cases.Add(new("tiny llama f32", sharedF32, "shared/refs/gguf/llama-f32.gguf: 2 layers, hidden 256, vocab 512"));
        cases.Add(new("tiny llama q8_0", fixture, "tests/fixtures/gguf/llama-q8_0.gguf: 2 layers, hidden 256, vocab 512"));
        if (!quick)
        {
            var shape = new RandomLlamaGguf.Shape(Layers: 4, Hidden: 1024, Intermediate: 2816, Heads: 16, KvHeads: 4, Vocab: 8192, Context: Context);
            foreach (var type in new[] { GgmlType.F32, GgmlType.Q8_0 })
            {
                string name = type.ToString().ToLowerInvariant();
                Console.Error.WriteLine($"writing the random {name} model ({shape}) ...");
                string path = RandomLlamaGguf.Write(Path.Combine(scratch, $"random-llama-1024x4-{name}.gguf"), shape, type, fixture);
                cases.Add(new($"random llama {name}", path, $"random weights written by GgufWriter: {shape}"));
            }
        }

        LlamaCppPeer.QuietLogs();
        var rows = new List<Row>();
        foreach (int threads in ThreadCounts)
        {
            foreach (var c in cases)
            {
                Console.Error.WriteLine($"{c.Name}, {threads} threads: {c.Path}");
                rows.Add(Measure(c, threads, reps));
                var last = rows[^1];
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  pp{Prompt}: candle {last.CandlePp:F1} / llama.cpp {last.LlamaPp:F1} tok/s = {last.PpRatio:F2}x; tg{Gen}: candle {last.CandleTg:F1} / llama.cpp {last.LlamaTg:F1} tok/s = {last.TgRatio:F2}x"));
            }
        }

        string report = Report(rows, reps, output);
        Console.WriteLine(report);
        File.WriteAllText(output, report);
        Console.Error.WriteLine($"wrote {output}");
        return 0;
    }

    private static Row Measure(Case c, int threads, int reps)
    {
        using var llama = new LlamaCppPeer(c.Path, threads, Context);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var candle = TextGenerator.Load(c.Path, "cpu", compileOptions: new CompileOptions { Threads = threads });
        double loadSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        int vocab = candle.Shape.VocabSize;
        if (llama.VocabSize != vocab) throw new InvalidOperationException($"{c.Path}: llama.cpp sees {llama.VocabSize} tokens, Candle {vocab}");

        // Both peers must compute the same model: compare the last-position logits of one prompt.
        int[] probe = RandomTokens(new Random(99), 16, vocab);
        float[] theirs = llama.LastLogits(probe);
        candle.Session.Reset(probe.Length);
        float[] ours = candle.Session.Prefill(HostTensor.FromArray([.. probe.Select(t => (long)t)], 1, probe.Length)).ToFloat32();
        double diff = 0;
        for (int i = 0; i < vocab; i++) diff = Math.Max(diff, Math.Abs(ours[i] - theirs[i]));
        bool sameArgmax = Argmax(ours) == Argmax(theirs);

        // Warm-up: one prefill and one short decode each, untimed (llama-bench's warm-up run).
        var rng = new Random(1234);
        llama.Prefill(RandomTokens(rng, Prompt, vocab));
        llama.Decode(RandomTokens(rng, 1, vocab));
        candle.Benchmark(new BenchmarkOptions { PromptTokens = Prompt, GenTokens = 1, Repetitions = 1, Warmup = false });

        var cpp = new List<double>();
        var lpp = new List<double>();
        var ctg = new List<double>();
        var ltg = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            lpp.Add(llama.Prefill(RandomTokens(rng, Prompt, vocab)));
            cpp.Add(candle.Benchmark(new BenchmarkOptions { PromptTokens = Prompt, GenTokens = 0, Repetitions = 1, Warmup = false, Seed = r }).PrefillTokensPerSecond);
            ltg.Add(llama.Decode(RandomTokens(rng, Gen, vocab)));
            ctg.Add(candle.Benchmark(new BenchmarkOptions { PromptTokens = 0, GenTokens = Gen, Repetitions = 1, Warmup = false, Seed = r }).DecodeTokensPerSecond);
        }

        return new Row(c, threads, Median(cpp), Median(lpp), Median(ctg), Median(ltg),
            Median([.. cpp.Zip(lpp, (a, b) => a / b)]), Median([.. ctg.Zip(ltg, (a, b) => a / b)]), diff, sameArgmax, loadSeconds);
    }

    private static string Report(List<Row> rows, int reps, string output)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Candle vs llama.cpp on the same GGUF files");
        sb.AppendLine();
        sb.AppendLine(inv, $"Written by `dotnet run -c Release --project perf/Candle.Perf -- llamacpp` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        sb.AppendLine(inv, $"Machine: {CpuName()}, {Environment.ProcessorCount} logical cores (shared with other work, so expect noise), {RuntimeInformation.FrameworkDescription}.");
        sb.AppendLine();
        sb.AppendLine(inv, $"llama.cpp: {LlamaCppPeer.SystemInfo()}");
        sb.AppendLine();
        string policy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is { Length: > 0 } p ? p : "unset (libgomp spins at barriers)";
        sb.AppendLine(inv, $"OMP_WAIT_POLICY: {policy}. This llama.cpp build synchronizes its threads with OpenMP; on a machine whose cores");
        sb.AppendLine("are shared, spinning threads lose their core at every barrier, so run it as");
        sb.AppendLine("`OMP_WAIT_POLICY=PASSIVE dotnet run -c Release --project perf/Candle.Perf -- llamacpp` (libgomp reads it at load).");
        sb.AppendLine();
        sb.AppendLine("Both peers run in one process with the same thread count (2, then 1 as a control that has no thread barriers):");
        sb.AppendLine("llama.cpp through LLamaSharp 0.30.0 (LLamaSharp.Backend.Cpu, the build it picks for this CPU, default");
        sb.AppendLine("flash-attention setting), Candle through `TextGenerator.Load(path, \"cpu\")` and");
        sb.AppendLine(inv, $"`TextGenerator.Benchmark`. As llama-bench does: pp{Prompt} = one batch of {Prompt} random tokens from an empty cache");
        sb.AppendLine(inv, $"(logits of the last only), tg{Gen} = {Gen} single-token decode steps from an empty cache, context {Context}; one untimed");
        sb.AppendLine(inv, $"warm-up, then {reps} repeats in which the two peers alternate, medians reported. The ratio column is the median of the");
        sb.AppendLine("per-repeat ratios Candle / llama.cpp (above 1: Candle is faster).");
        sb.AppendLine();
        sb.AppendLine("Both keep q8_0 matrices quantized and multiply them with q8_0 dot products (activations rounded to 8 bits;");
        sb.AppendLine("Candle's prefill-sized products use a packed float32 copy made on first use). \"logit diff\" is the largest difference of");
        sb.AppendLine("the last-position logits of one 16-token prompt between the peers, with whether their argmax agrees.");
        sb.AppendLine();
        sb.AppendLine(inv, $"| model | threads | Candle pp{Prompt} | llama.cpp pp{Prompt} | pp ratio | Candle tg{Gen} | llama.cpp tg{Gen} | tg ratio | logit diff (argmax) |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in rows)
        {
            sb.AppendLine(inv,
                $"| {r.Case.Name} | {r.Threads} | {r.CandlePp:F1} | {r.LlamaPp:F1} | {r.PpRatio:F2}x | {r.CandleTg:F1} | {r.LlamaTg:F1} | {r.TgRatio:F2}x | {r.LogitDiff:G2} ({(r.SameArgmax ? "same" : "differs")}) |");
        }

        sb.AppendLine();
        sb.AppendLine("Throughput in tokens per second.");
        sb.AppendLine();
        foreach (var r in rows.Where(r => r.Threads == ThreadCounts[0])) sb.AppendLine(inv, $"- {r.Case.Name}: {r.Case.Note}; Candle load + compile {r.LoadSeconds:F1} s.");
        sb.AppendLine();
        sb.AppendLine(KeepMarker);
        if (File.Exists(output))
        {
            string old = File.ReadAllText(output);
            int at = old.IndexOf(KeepMarker, StringComparison.Ordinal);
            if (at >= 0) sb.Append(old[(at + KeepMarker.Length)..].TrimStart('\r', '\n'));
        }

        return sb.ToString();
    }

    private static int[] RandomTokens(Random rng, int n, int vocab) => [.. Enumerable.Range(0, n).Select(_ => rng.Next(vocab))];

    private static int Argmax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best]) best = i;
        }

        return best;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    private static string? OptionValue(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Candle.Compiler.sln"))) dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }

    private static string CpuName()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }
}
