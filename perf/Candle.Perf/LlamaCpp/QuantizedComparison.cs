using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>dotnet run -c Release --project perf/Candle.Perf -- llamacpp-quant [--layers N] [--reps N] [--gen N] [--prompt N]
/// [--no-f32] [--types q8_0,q4_0,q4_k_m] [--kv f16] [--chunk N] [--out FILE]</c>: decode and prefill of a random Llama-shaped GGUF model (hidden 2048, MLP 5632, 32/4
/// heads, vocab 32000; 22 layers is the 1.1B shape) in Q8_0, Q4_0 and Q4_K_M (f16 quantized with llama.cpp's per-tensor
/// choices by <c>candle quantize</c>'s quantizer), at 2 threads, with three peers in one process
/// alternating A B C in every repeat: llama.cpp (LLamaSharp), Candle on the quantized weights (quantized kernels) and
/// Candle on the dequantized float32 weights (the path before quantized kernels). Peak RSS of each peer comes from a
/// child process that loads only that peer and runs one prefill and one decode (<c>--rss PEER FILE</c>).
/// </summary>
public static class QuantizedComparison
{
    private const int Threads = 2;
    private static int Context = 512;
    private static DType? KvType;
    private static int? Chunk;

    private sealed record Result(string Peer, List<double> Prefill, List<double> Decode);

    public static int Run(string[] args)
    {
        Context = Int(args, "--context", Context);
        Chunk = OptionValue(args, "--chunk") is string c ? int.Parse(c, CultureInfo.InvariantCulture) : null;
        KvType = OptionValue(args, "--kv") switch
        {
            null or "f32" => null,
            "f16" => DType.F16,
            var k => throw new ArgumentException($"llamacpp-quant --kv: '{k}' is not f32 or f16"),
        };
        if (OptionValue(args, "--rss") is string rssPeer)
        {
            return RssChild(rssPeer, args[Array.IndexOf(args, "--rss") + 2], Int(args, "--prompt", 128), Int(args, "--gen", 32));
        }

        if (OptionValue(args, "--write") is string writeType)
        {
            var ws = new RandomLlamaGguf.Shape(Layers: Int(args, "--layers", 22), Hidden: 2048, Intermediate: 5632, Heads: 32, KvHeads: 4, Vocab: 32000, Context: Context);
            string wpath = args[Array.IndexOf(args, "--write") + 2];
            WriteModel(wpath, ws, writeType.ToLowerInvariant(), Path.Combine(RepoRoot(), "tests", "fixtures", "gguf", "llama-q8_0.gguf"));
            Console.WriteLine($"{wpath}: {new FileInfo(wpath).Length} bytes");
            return 0;
        }

        int layers = Int(args, "--layers", 22);
        int reps = Int(args, "--reps", 3);
        int gen = Int(args, "--gen", 32);
        int prompt = Int(args, "--prompt", 128);
        bool withF32 = !args.Contains("--no-f32");
        var types = (OptionValue(args, "--types") ?? "q8_0,q4_0,q4_k_m").Split(',')
            .Select(t => t.ToLowerInvariant() is "q8_0" or "q4_0" or "q4_k_m" ? t.ToLowerInvariant()
                : throw new ArgumentException($"llamacpp-quant --types: '{t}' is not q8_0, q4_0 or q4_k_m"))
            .ToArray();
        string repo = RepoRoot();
        string output = OptionValue(args, "--out") ?? Path.Combine(repo, "perf", "Candle.Perf", "Results", "quantized-llamacpp.md");
        string fixture = Path.Combine(repo, "tests", "fixtures", "gguf", "llama-q8_0.gguf");
        string scratch = OptionValue(args, "--scratch") ?? Path.Combine(Path.GetTempPath(), "candle-llamacpp-bench");
        var shape = new RandomLlamaGguf.Shape(Layers: layers, Hidden: 2048, Intermediate: 5632, Heads: 32, KvHeads: 4, Vocab: 32000, Context: Context);

        double bandwidth = ReadBandwidth();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"read bandwidth ({Threads} threads): {bandwidth:F1} GB/s"));
        LlamaCppPeer.QuietLogs();
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# Quantized kernels vs llama.cpp on random Llama-shaped GGUF files");
        sb.AppendLine();
        sb.AppendLine(inv, $"Written by `dotnet run -c Release --project perf/Candle.Perf -- llamacpp-quant --layers {layers} --reps {reps} --gen {gen} --prompt {prompt} --context {Context}{(withF32 ? "" : " --no-f32")} --types {string.Join(',', types).ToLowerInvariant()}{(KvType is null ? "" : " --kv f16")}{(Chunk is int hc ? $" --chunk {hc}" : "")}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        sb.AppendLine(inv, $"Machine: {CpuName()}, {Environment.ProcessorCount} logical cores (shared with other work, so expect noise), {RuntimeInformation.FrameworkDescription}.");
        sb.AppendLine(inv, $"Measured read bandwidth: {bandwidth:F1} GB/s ({Threads} threads summing a 1 GiB array of floats, best of 5).");
        sb.AppendLine(inv, $"llama.cpp: {LlamaCppPeer.SystemInfo()}");
        sb.AppendLine(inv, $"KV cache: ours {(KvType is null ? "f32" : "f16")}, llama.cpp f16 (its default). Our prefill runs prompts longer than {Chunk ?? DecoderSession.DefaultPrefillChunkLength} tokens in chunks of that many.");
        sb.AppendLine();
        sb.AppendLine(inv, $"Model: random weights written by GgufWriter, {shape}. {Threads} threads for every peer; each repeat runs");
        sb.AppendLine(inv, $"llama.cpp, Candle quantized{(withF32 ? " and Candle f32 (dequantized at load)" : "")} back to back (A B C), prefill of {prompt} tokens from an empty cache");
        sb.AppendLine(inv, $"then {gen} decode steps; medians of {reps} repeats after one warm-up, ratios are medians of per-repeat ratios.");
        sb.AppendLine();
        sb.AppendLine(inv, $"| type | file | peer | pp{prompt} tok/s | decode tok/s | pp vs llama.cpp | decode vs llama.cpp | decode vs f32 | peak RSS |");
        sb.AppendLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        var notes = new List<string>();
        foreach (var type in types)
        {
            string name = type;
            string path = Path.Combine(scratch, string.Create(inv, $"random-llama-2048x{layers}-c{Context}-{name}.gguf"));
            Console.Error.WriteLine($"writing {path} ({shape}) ...");
            WriteModel(path, shape, name, fixture);
            long fileBytes = new FileInfo(path).Length;
            long matrixBytes = MatrixBytesPerToken(path);
            var results = Measure(path, prompt, gen, reps, withF32);
            var llama = results[0];
            foreach (var r in results)
            {
                long rss = ChildRss(r.Peer, path, prompt, gen);
                string pp = Ratio(r.Prefill, llama.Prefill);
                string tg = Ratio(r.Decode, llama.Decode);
                string vsF32 = withF32 && r.Peer != "llama.cpp" ? Ratio(r.Decode, results[2].Decode) : "";
                sb.AppendLine(inv, $"| {name} | {fileBytes / 1e6:F0} MB | {r.Peer} | {Median(r.Prefill):F1} | {Median(r.Decode):F2} | {pp} | {tg} | {vsF32} | {(rss > 0 ? $"{rss / 1e6:F0} MB" : "n/a")} |");
                Console.Error.WriteLine(string.Create(inv, $"  {r.Peer}: pp {Median(r.Prefill):F1} tok/s, decode {Median(r.Decode):F2} tok/s, rss {rss / 1e6:F0} MB"));
            }

            notes.Add(string.Create(inv, $"- {name}: the matrices a decode step reads hold {matrixBytes / 1e6:F0} MB; at {bandwidth:F1} GB/s that bounds decode at {bandwidth * 1e9 / matrixBytes:F1} tokens/s."));
        }

        sb.AppendLine();
        foreach (var n in notes) sb.AppendLine(n);
        string report = sb.ToString();
        Console.WriteLine(report);
        File.WriteAllText(output, report);
        Console.Error.WriteLine($"wrote {output}");
        return 0;
    }

    /// <summary>
    /// Writes the random model in one ggml type, or for a mix (q4_k_m) as f16 and then through <c>candle quantize</c>'s
    /// quantizer with llama.cpp's per-tensor choices.
    /// </summary>
    private static void WriteModel(string path, RandomLlamaGguf.Shape shape, string type, string fixture)
    {
        if (type != "q4_k_m")
        {
            RandomLlamaGguf.Write(path, shape, Enum.Parse<GgmlType>(type, ignoreCase: true), fixture);
            return;
        }

        if (File.Exists(path)) return;
        string f16 = path + ".f16.gguf";
        RandomLlamaGguf.Write(f16, shape, GgmlType.F16, fixture);
        Candle.Transformers.Quantization.GgufQuantizer.Quantize(f16, path + ".partial", Candle.Transformers.Quantization.QuantizePreset.Parse("Q4_K_M"));
        File.Move(path + ".partial", path);
        File.Delete(f16);
    }

    private static List<Result> Measure(string path, int prompt, int gen, int reps, bool withF32)
    {
        using var llama = new LlamaCppPeer(path, Threads, Context);
        var compile = new CompileOptions { Threads = Threads };
        using var quant = TextGenerator.Load(path, "cpu", new ModelLoadOptions { KvCacheDType = KvType }, compile);
        if (Chunk is int qc) quant.Session.PrefillChunkLength = qc;
        using var f32 = withF32 ? TextGenerator.Load(path, "cpu", new ModelLoadOptions { DequantizeWeights = true, KvCacheDType = KvType }, compile) : null;
        int vocab = llama.VocabSize;
        var rng = new Random(1234);
        var peers = new List<(string Name, Func<int, double> Prefill, Func<int, double> Decode)>
        {
            ("llama.cpp", _ => llama.Prefill(RandomTokens(rng, prompt, vocab)), _ => llama.Decode(RandomTokens(rng, gen, vocab))),
            ("Candle quantized", r => Pp(quant, prompt, r), r => Tg(quant, gen, r)),
        };
        if (f32 is not null) peers.Add(("Candle f32", r => Pp(f32, prompt, r), r => Tg(f32, gen, r)));
        foreach (var p in peers)
        {
            p.Prefill(-1);
            p.Decode(-1);
        }

        var results = peers.Select(p => new Result(p.Name, [], [])).ToList();
        for (int r = 0; r < reps; r++)
        {
            for (int i = 0; i < peers.Count; i++)
            {
                results[i].Prefill.Add(peers[i].Prefill(r));
                results[i].Decode.Add(peers[i].Decode(r));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  rep {r} {peers[i].Name}: pp {results[i].Prefill[^1]:F1}, decode {results[i].Decode[^1]:F2}"));
            }
        }

        return results;
    }

    private static double Pp(TextGenerator g, int prompt, int seed) =>
        g.Benchmark(new BenchmarkOptions { PromptTokens = prompt, GenTokens = 0, Repetitions = 1, Warmup = false, Seed = seed + 10 }).PrefillTokensPerSecond;

    private static double Tg(TextGenerator g, int gen, int seed) =>
        g.Benchmark(new BenchmarkOptions { PromptTokens = 0, GenTokens = gen, Repetitions = 1, Warmup = false, Seed = seed + 10 }).DecodeTokensPerSecond;

    private static int RssChild(string peer, string path, int prompt, int gen)
    {
        LlamaCppPeer.QuietLogs();
        var compile = new CompileOptions { Threads = Threads };
        if (peer == "llama.cpp")
        {
            using var llama = new LlamaCppPeer(path, Threads, Context);
            llama.Prefill(RandomTokens(new Random(1), prompt, llama.VocabSize));
            llama.Decode(RandomTokens(new Random(2), gen, llama.VocabSize));
        }
        else
        {
            using var ticks = Environment.GetEnvironmentVariable("CANDLE_RSS_DETAIL") == "1" ? new AllocationTicks() : null;
            var options = new ModelLoadOptions { DequantizeWeights = peer == "Candle f32", KvCacheDType = KvType };
            using var g = TextGenerator.Load(path, "cpu", options, compile);
            if (Chunk is int gc) g.Session.PrefillChunkLength = gc;
            Phase("loaded");
            g.Benchmark(new BenchmarkOptions { PromptTokens = prompt, GenTokens = 0, Repetitions = 1, Warmup = false });
            Phase("prefilled");
            using (var decodeTicks = Environment.GetEnvironmentVariable("CANDLE_RSS_DETAIL") == "1" ? new AllocationTicks() : null)
            {
                g.Benchmark(new BenchmarkOptions { PromptTokens = 0, GenTokens = gen, Repetitions = 1, Warmup = false });
                decodeTicks?.Print();
            }

            Phase("decoded");
            if (Environment.GetEnvironmentVariable("CANDLE_RSS_DETAIL") == "1")
            {
                ticks?.Print();
                if (g.Session.PrefillPlan is Candle.Runtime.Plans.Plan pp)
                {
                    var env = new Dictionary<string, long> { ["seq"] = prompt, ["batch"] = 1 };
                    var steps = pp.Definition.Steps;
                    foreach (var (b, i) in pp.Definition.Buffers.Select((b, i) => (b, i)).Where(x => x.b.Kind == Candle.Runtime.Plans.BufferKind.Arena)
                        .OrderByDescending(x => x.b.Bytes.Evaluate(env)).Take(12))
                    {
                        Console.Error.WriteLine($"arena b{i}: {b.Bytes.Evaluate(env) / 1e6:F2} MB, steps {b.FirstStep}..{b.LastStep} ({steps[b.FirstStep].Label} .. {steps[b.LastStep].Label})");
                    }

                    Console.Error.WriteLine($"prefill arena peak: {pp.PeakArenaBytes(env) / 1e6:F1} MB");

                    // The step where the most arena bytes are live, and what is live there.
                    var arena = pp.Definition.Buffers.Select((b, i) => (b, i)).Where(x => x.b.Kind == Candle.Runtime.Plans.BufferKind.Arena).ToList();
                    int peakStep = Enumerable.Range(0, steps.Count).MaxBy(s => arena.Where(x => x.b.FirstStep <= s && s <= x.b.LastStep).Sum(x => x.b.Bytes.Evaluate(env)));
                    var live = arena.Where(x => x.b.FirstStep <= peakStep && peakStep <= x.b.LastStep).ToList();
                    Console.Error.WriteLine($"most live at step {peakStep} ({steps[peakStep].Label}): {live.Sum(x => x.b.Bytes.Evaluate(env)) / 1e6:F2} MB");
                    foreach (var (b, i) in live.OrderByDescending(x => x.b.Bytes.Evaluate(env)).Take(8))
                    {
                        Console.Error.WriteLine($"  b{i}: {b.Bytes.Evaluate(env) / 1e6:F2} MB, steps {b.FirstStep}..{b.LastStep} ({steps[b.FirstStep].Label} .. {steps[b.LastStep].Label})");
                    }
                }
            }
        }

        string? hwm = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        foreach (string l in File.ReadLines("/proc/self/status").Where(l => l.StartsWith("Rss", StringComparison.Ordinal) || l.StartsWith("VmRSS", StringComparison.Ordinal))) Console.Error.WriteLine(l);
        if (Environment.GetEnvironmentVariable("CANDLE_RSS_DETAIL") == "1")
        {
            var gi = GC.GetGCMemoryInfo();
            Console.Error.WriteLine($"GC heap {gi.HeapSizeBytes / 1e6:F1} MB committed {gi.TotalCommittedBytes / 1e6:F1} MB, total allocated {GC.GetTotalAllocatedBytes() / 1e6:F0} MB, gen2 count {GC.CollectionCount(2)}");
            string? cur = null;
            var regions = new List<(long Rss, long Anon, string Name)>();
            long rss = 0, anon = 0;
            foreach (string l in File.ReadLines("/proc/self/smaps"))
            {
                if (l.Length > 0 && char.IsAsciiHexDigit(l[0]) && l.Contains('-', StringComparison.Ordinal) && !l.StartsWith("Rss", StringComparison.Ordinal))
                {
                    if (cur is not null) regions.Add((rss, anon, cur));
                    cur = l;
                    rss = anon = 0;
                }
                else if (l.StartsWith("Rss:", StringComparison.Ordinal)) rss = long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                else if (l.StartsWith("Anonymous:", StringComparison.Ordinal)) anon = long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }

            if (cur is not null) regions.Add((rss, anon, cur));
            foreach (var r in regions.OrderByDescending(r => r.Rss).Take(25)) Console.Error.WriteLine($"{r.Rss,9} kB rss {r.Anon,9} kB anon  {r.Name}");
        }

        Console.WriteLine($"RSS {hwm}");
        return 0;
    }

    /// <summary>With <c>CANDLE_RSS_DETAIL=1</c>, prints the resident set, its high-water mark and the GC heap at a phase boundary.</summary>
    private static void Phase(string name)
    {
        if (Environment.GetEnvironmentVariable("CANDLE_RSS_DETAIL") != "1") return;
        string Field(string key) => File.ReadLines("/proc/self/status").First(l => l.StartsWith(key, StringComparison.Ordinal))[(key.Length + 1)..].Trim();
        var gi = GC.GetGCMemoryInfo();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"phase {name}: allocated {GC.GetTotalAllocatedBytes() / 1e6:F2} MB, VmRSS {Field("VmRSS")}, VmHWM {Field("VmHWM")}, RssAnon {Field("RssAnon")}, GC heap {GC.GetTotalMemory(false) / 1e6:F1} MB (last GC: heap {gi.HeapSizeBytes / 1e6:F1} MB, committed {gi.TotalCommittedBytes / 1e6:F1} MB, fragmented {gi.FragmentedBytes / 1e6:F1} MB)"));
    }

    private static long ChildRss(string peer, string path, int prompt, int gen)
    {
        try
        {
            string exe = Environment.ProcessPath ?? "dotnet";
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(QuantizedComparison).Assembly.Location);
            foreach (string a in new[] { "llamacpp-quant", "--rss", peer, path, "--prompt", prompt.ToString(CultureInfo.InvariantCulture), "--gen", gen.ToString(CultureInfo.InvariantCulture), "--context", Context.ToString(CultureInfo.InvariantCulture), "--kv", KvType is null ? "f32" : "f16" })
            {
                psi.ArgumentList.Add(a);
            }

            if (Chunk is int cc)
            {
                psi.ArgumentList.Add("--chunk");
                psi.ArgumentList.Add(cc.ToString(CultureInfo.InvariantCulture));
            }

            using var p = Process.Start(psi)!;
            p.ErrorDataReceived += (_, _) => { };
            p.BeginErrorReadLine();
            string outText = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            string? line = outText.Split('\n').FirstOrDefault(l => l.StartsWith("RSS VmHWM:", StringComparison.Ordinal));
            if (line is null) return -1;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[2], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception or FormatException)
        {
            Console.Error.WriteLine($"rss of {peer}: {e.Message}");
            return -1;
        }
    }

    /// <summary>The bytes of the matrices one decode step reads: every 2-d tensor but the token embedding (one row of it).</summary>
    private static long MatrixBytesPerToken(string path)
    {
        using var f = GgufFile.Open(path);
        return f.Tensors.Where(t => t.Shape.Count == 2 && t.Name != "token_embd.weight").Sum(t => t.ByteLength);
    }

    /// <summary>GB/s of <see cref="Threads"/> threads summing a 1 GiB float array (best of 5).</summary>
    private static unsafe double ReadBandwidth()
    {
        const long Bytes = 1L << 30;
        float* data = (float*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
        try
        {
            long n = Bytes / sizeof(float);
            new Span<byte>(data, (int)Bytes).Fill(1);
            double best = 0;
            for (int rep = 0; rep < 5; rep++)
            {
                var sw = Stopwatch.StartNew();
                var sums = new float[Threads];
                Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
                {
                    long start = n / Threads * t, end = t == Threads - 1 ? n : n / Threads * (t + 1);
                    var a0 = Vector256<float>.Zero;
                    var a1 = Vector256<float>.Zero;
                    var a2 = Vector256<float>.Zero;
                    var a3 = Vector256<float>.Zero;
                    for (long i = start; i + 32 <= end; i += 32)
                    {
                        a0 += Vector256.Load(data + i);
                        a1 += Vector256.Load(data + i + 8);
                        a2 += Vector256.Load(data + i + 16);
                        a3 += Vector256.Load(data + i + 24);
                    }

                    sums[t] = Vector256.Sum(a0 + a1 + a2 + a3);
                });
                best = Math.Max(best, Bytes / sw.Elapsed.TotalSeconds / 1e9);
            }

            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(data);
        }
    }

    private static string Ratio(List<double> a, List<double> b)
    {
        List<double> r = [.. a.Zip(b, (x, y) => x / y)];
        return r.Count > 1
            ? string.Create(CultureInfo.InvariantCulture, $"{Median(r):F2}x ({r.Min():F2}–{r.Max():F2})")
            : string.Create(CultureInfo.InvariantCulture, $"{Median(r):F2}x");
    }

    private static int[] RandomTokens(Random rng, int n, int vocab) => [.. Enumerable.Range(0, n).Select(_ => rng.Next(vocab))];

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    private static int Int(string[] args, string name, int fallback) =>
        OptionValue(args, name) is string v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

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
        string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }
}
