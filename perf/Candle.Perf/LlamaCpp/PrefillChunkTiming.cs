using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>dotnet run -c Release --project perf/Candle.Perf -- prefill-chunks FILE [--prompt N] [--reps N] [--chunks 0,128,256]
/// [--kv f16]</c>: prefill speed of one loaded GGUF model at 2 threads with the prompt run in one step (chunk 0) and in
/// chunks of the given lengths (<see cref="DecoderSession.PrefillChunkLength"/>), alternating the settings in every
/// repeat after one warm-up each; prints the median tokens/s of each and its median per-repeat ratio to one step.
/// </summary>
public static class PrefillChunkTiming
{
    public static void Run(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException("prefill-chunks: the first argument is the GGUF file");
        }

        string path = args[0];
        int prompt = Int(args, "--prompt", 512);
        int reps = Int(args, "--reps", 5);
        int[] chunks = [.. (Option(args, "--chunks") ?? "0,128,256").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))];
        DType? kv = Option(args, "--kv") switch
        {
            null or "f32" => null,
            "f16" => DType.F16,
            var k => throw new ArgumentException($"prefill-chunks --kv: '{k}' is not f32 or f16"),
        };
        using var g = TextGenerator.Load(path, "cpu", new ModelLoadOptions { KvCacheDType = kv }, new CompileOptions { Threads = 2 });
        var tps = chunks.Select(_ => new List<double>()).ToArray();
        for (int r = -1; r < reps; r++)
        {
            for (int c = 0; c < chunks.Length; c++)
            {
                g.Session.PrefillChunkLength = chunks[c] == 0 ? int.MaxValue : chunks[c];
                double t = g.Benchmark(new BenchmarkOptions { PromptTokens = prompt, GenTokens = 0, Repetitions = 1, Warmup = false, Seed = r + 10 }).PrefillTokensPerSecond;
                if (r >= 0) tps[c].Add(t);
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rep {r} chunk {chunks[c]}: {t:F1} tok/s"));
            }
        }

        for (int c = 0; c < chunks.Length; c++)
        {
            var ratios = tps[c].Zip(tps[0], (a, b) => a / b).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prompt {prompt}, chunk {(chunks[c] == 0 ? "none" : chunks[c].ToString(CultureInfo.InvariantCulture))}: {Median(tps[c]):F1} tok/s, {Median(ratios):F3}x of chunk {chunks[0]} ({ratios.Min():F3}–{ratios.Max():F3})"));
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    private static int Int(string[] args, string name, int fallback) =>
        Option(args, name) is string v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
