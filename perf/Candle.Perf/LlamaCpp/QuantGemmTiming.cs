using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>quant-gemm [--rows M] [--n N] [--k K] [--reps R] [--types q4_0,q8_0,q4_k,q6_k] [--cpu]</c>: one compiled product [M, K] × [N, K]ᵀ per
/// weight type, run on the packed panels of <see cref="QuantPanelGemm"/> (now), on the kernels they replace (before: the
/// 4 × 4 tiles over the weights as stored for Q4_0 and Q8_0, dequantized tiles through the SGEMM for the k-quants) and with the weight dequantized to a float32 constant (packed SGEMM), alternating, 2 threads; median
/// and spread (min–max) of R runs each, and the ratio of the medians. <c>--cpu</c> runs one thread and times the calling
/// thread's CPU time instead of wall time (<see cref="ThreadCpuClock"/>: on a loaded machine, the time
/// spent on a core rather than waiting for one).
/// </summary>
public static class QuantGemmTiming
{
    public static int Run(string[] args)
    {
        int m = Int(args, "--rows", 128), n = Int(args, "--n", 5632), k = Int(args, "--k", 2048), reps = Int(args, "--reps", 9);
        int ti = Array.IndexOf(args, "--types");
        var types = ti >= 0 && ti + 1 < args.Length
            ? args[ti + 1].Split(',').Select(t => Enum.Parse<GgmlType>(t, ignoreCase: true)).ToArray()
            : [GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K];
        var rng = new Random(1);
        var values = new float[n * k];
        for (int i = 0; i < values.Length; i++) values[i] = (rng.NextSingle() * 2) - 1;
        var xs = new float[m * k];
        for (int i = 0; i < xs.Length; i++) xs[i] = (rng.NextSingle() * 2) - 1;
        var input = HostTensor.FromArray(xs, m, k);
        bool cpu = args.Contains("--cpu");
        var options = new CompileOptions { Threads = cpu ? 1 : 2 };
        double macs = (double)m * n * k;
        foreach (var type in types)
        {
            var bytes = new byte[GgmlTypeTraits.ByteCount(type, values.Length)];
            GgmlTypeTraits.Quantize(type, values, bytes);
            var q = new QuantizedTensor(type, n, k, bytes, "w");
            var x = IrBuilder.Input("x", DType.F32, Shape.Of(m, k));
            using var quant = new CpuBackend().CompilePlan(new Graph([x], [IrBuilder.QuantMatMul(x, IrBuilder.QuantConstant(q))]), options);
            using var f32 = new CpuBackend().CompilePlan(new Graph([x], [IrBuilder.Linear(x, IrBuilder.Constant(q.Dequantize(), "w"), null)]), options);
            var runs = new (string Name, Action Run, List<double> Ms)[]
            {
                ("panels (now)", () => { QuantMatMulKernel.UsePanels = true; quant.Run([input]); }, []),
                ("before", () => { QuantMatMulKernel.UsePanels = false; quant.Run([input]); }, []),
                ("f32 packed SGEMM", () => f32.Run([input]), []),
            };
            foreach (var r in runs) r.Run();
            for (int rep = 0; rep < reps; rep++)
            {
                foreach (var r in runs)
                {
                    var sw = Stopwatch.StartNew();
                    double cpuStart = cpu ? ThreadCpuClock.NowMs() : 0;
                    r.Run();
                    r.Ms.Add(cpu ? ThreadCpuClock.NowMs() - cpuStart : sw.Elapsed.TotalMilliseconds);
                }
            }

            QuantMatMulKernel.UsePanels = true;
            double baseline = Median(runs[1].Ms);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type} [{m}, {k}] x [{n}, {k}]^T, {reps} alternating runs, {(cpu ? "1 thread, thread CPU time" : "2 threads, wall time")}:"));
            foreach (var r in runs)
            {
                double med = Median(r.Ms);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"  {r.Name,-20} median {med,8:F2} ms ({r.Ms.Min():F2}-{r.Ms.Max():F2}), {macs / med / 1e6,6:F1} GMAC/s, before/this {baseline / med:F2}x"));
            }
        }

        return 0;
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
