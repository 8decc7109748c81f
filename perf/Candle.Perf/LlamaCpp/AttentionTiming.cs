using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Tensors;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>attention-timing [--lengths 128,512] [--reps R] [--threads T]</c>: the prefill attention of one layer of the 1.1B
/// Llama shape (32 query heads, 4 key/value heads, head dim 64, causal) over S tokens, compiled once, run with the keys
/// transposed per block (now) and with the per-key dot products it replaced (before), alternating; median and spread
/// (min–max) of R runs each and the ratio of the medians.
/// </summary>
public static class AttentionTiming
{
    public static int Run(string[] args)
    {
        int reps = Int(args, "--reps", 15), threads = Int(args, "--threads", 2);
        int li = Array.IndexOf(args, "--lengths");
        int[] lengths = li >= 0 && li + 1 < args.Length
            ? [.. args[li + 1].Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture))]
            : [128, 512];
        const int Hq = 32, Hk = 4, D = 64;
        var rng = new Random(1);
        foreach (int s in lengths)
        {
            var q = IrBuilder.Input("q", DType.F32, Shape.Of(1, Hq, s, D));
            var k = IrBuilder.Input("k", DType.F32, Shape.Of(1, Hk, s, D));
            var v = IrBuilder.Input("v", DType.F32, Shape.Of(1, Hk, s, D));
            using var plan = new CpuBackend().CompilePlan(new Graph([q, k, v], [IrBuilder.Attention(q, k, v, causal: true)]), new CompileOptions { Threads = threads });
            var inputs = new[] { Random(rng, Hq * s * D, Hq, s), Random(rng, Hk * s * D, Hk, s), Random(rng, Hk * s * D, Hk, s) };
            var runs = new (string Name, bool Transposed, List<double> Ms)[] { ("transposed keys (now)", true, []), ("per-key dots (before)", false, []) };
            foreach (var r in runs)
            {
                FlashAttentionKernel.TransposeKeyBlocks = r.Transposed;
                plan.Run(inputs);
            }

            for (int rep = 0; rep < reps; rep++)
            {
                foreach (var r in runs)
                {
                    FlashAttentionKernel.TransposeKeyBlocks = r.Transposed;
                    var sw = Stopwatch.StartNew();
                    plan.Run(inputs);
                    r.Ms.Add(sw.Elapsed.TotalMilliseconds);
                }
            }

            FlashAttentionKernel.TransposeKeyBlocks = true;
            double before = Median(runs[1].Ms);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"causal attention [1, {Hq}/{Hk} heads, {s}, {D}], {threads} threads, {reps} alternating runs:"));
            foreach (var r in runs)
            {
                double med = Median(r.Ms);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.Name,-22} median {med,8:F2} ms ({r.Ms.Min():F2}-{r.Ms.Max():F2}), before/this {before / med:F2}x"));
            }
        }

        return 0;
    }

    private static HostTensor Random(Random rng, int count, int heads, int s)
    {
        var data = new float[count];
        for (int i = 0; i < data.Length; i++) data[i] = (rng.NextSingle() * 2) - 1;
        return HostTensor.FromArray(data, 1, heads, s, 64);
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    private static int Int(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
