using System.Diagnostics;
using System.Globalization;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// <c>quant-epilogue [--rows M,...] [--reps R] [--types q8_0,q4_0,q4_k]</c>: one Llama MLP block,
/// <c>down(silu(gate(x)) · up(x)) + x</c> with x [M, 2048], 5632 hidden and random quantized weights, compiled with its
/// epilogues fused into the quantized products (O2) and unfused (O1: the same products, the silu, the gated product
/// and the residual add as their own steps), run alternating in one process, 2 threads; medians, spreads (min–max) and
/// the per-run ratios' median, and each plan's peak arena.
/// </summary>
public static class QuantEpilogueTiming
{
    private const int Hidden = 2048, Intermediate = 5632;

    public static int Run(string[] args)
    {
        int reps = Int(args, "--reps", 9);
        var rowCounts = (Option(args, "--rows") ?? "512,1").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var types = (Option(args, "--types") ?? "q8_0,q4_0,q4_k").Split(',').Select(t => Enum.Parse<GgmlType>(t, ignoreCase: true)).ToArray();
        var rng = new Random(1);
        foreach (var type in types)
        {
            var gate = Random(rng, type, Intermediate, Hidden, "gate");
            var up = Random(rng, type, Intermediate, Hidden, "up");
            var down = Random(rng, type, Hidden, Intermediate, "down");
            foreach (int m in rowCounts)
            {
                var x = IrBuilder.Input("x", DType.F32, Shape.Of(1, m, Hidden));
                var gated = IrBuilder.Binary(Op.Mul, IrBuilder.Unary(Op.Silu, IrBuilder.QuantMatMul(x, IrBuilder.QuantConstant(gate))), IrBuilder.QuantMatMul(x, IrBuilder.QuantConstant(up)));
                var g = new Graph([x], [IrBuilder.Binary(Op.Add, IrBuilder.QuantMatMul(gated, IrBuilder.QuantConstant(down)), x)]);
                var xs = new float[m * Hidden];
                for (int i = 0; i < xs.Length; i++) xs[i] = (rng.NextSingle() * 2) - 1;
                var input = HostTensor.FromArray(xs, 1, m, Hidden);
                using var fused = new CpuBackend().CompilePlan(g, new CompileOptions { Threads = 2, OptLevel = 2 });
                using var unfused = new CpuBackend().CompilePlan(g, new CompileOptions { Threads = 2, OptLevel = 1 });
                var runs = new (string Name, Candle.Runtime.Plans.Plan Plan, List<double> Ms)[] { ("unfused (O1)", unfused, []), ("fused (O2)", fused, []) };
                foreach (var r in runs) r.Plan.Run([input]);
                for (int rep = 0; rep < reps; rep++)
                {
                    foreach (var r in rep % 2 == 0 ? runs : runs.Reverse())
                    {
                        var sw = Stopwatch.StartNew();
                        r.Plan.Run([input]);
                        r.Ms.Add(sw.Elapsed.TotalMilliseconds);
                    }
                }

                var ratios = runs[0].Ms.Zip(runs[1].Ms, (a, b) => a / b).ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type} MLP block, {m} rows, {reps} alternating runs (unfused/fused per run: median {Median(ratios):F3}, {ratios.Min():F3}-{ratios.Max():F3}):"));
                foreach (var r in runs)
                {
                    long arena = r.Plan.PeakArenaBytes(new Dictionary<string, long>());
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.Name,-14} median {Median(r.Ms),9:F2} ms ({r.Ms.Min():F2}-{r.Ms.Max():F2}), peak arena {arena / 1e6:F2} MB"));
                }
            }
        }

        return 0;
    }

    private static QuantizedTensor Random(Random rng, GgmlType type, int rows, int cols, string name)
    {
        var values = new float[rows * cols];
        for (int i = 0; i < values.Length; i++) values[i] = ((rng.NextSingle() * 2) - 1) * 0.05f;
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, values.Length)];
        GgmlTypeTraits.Quantize(type, values, bytes);
        return new QuantizedTensor(type, rows, cols, bytes, name);
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int Int(string[] args, string name, int fallback) => Option(args, name) is string v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
