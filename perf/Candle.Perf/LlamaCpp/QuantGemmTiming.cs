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
/// <c>quant-gemm [--rows M] [--n N] [--k K]</c>: one compiled product [M, K] × [N, K]ᵀ with a Q8_0 and a Q4_0 weight
/// (quantized kernels) and with the same weight dequantized to a float32 constant (packed SGEMM), alternating, 2 threads.
/// </summary>
public static class QuantGemmTiming
{
    public static int Run(string[] args)
    {
        int m = Int(args, "--rows", 128), n = Int(args, "--n", 5632), k = Int(args, "--k", 2048);
        var rng = new Random(1);
        var values = new float[n * k];
        for (int i = 0; i < values.Length; i++) values[i] = (rng.NextSingle() * 2) - 1;
        var xs = new float[m * k];
        for (int i = 0; i < xs.Length; i++) xs[i] = (rng.NextSingle() * 2) - 1;
        var input = HostTensor.FromArray(xs, m, k);
        var options = new CompileOptions { Threads = 2 };
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q8_0 })
        {
            var bytes = new byte[GgmlTypeTraits.ByteCount(type, values.Length)];
            GgmlTypeTraits.Quantize(type, values, bytes);
            var q = new QuantizedTensor(type, n, k, bytes, "w");
            var x = IrBuilder.Input("x", DType.F32, Shape.Of(m, k));
            using var quant = new CpuBackend().CompilePlan(new Graph([x], [IrBuilder.QuantMatMul(x, IrBuilder.QuantConstant(q))]), options);
            using var f32 = new CpuBackend().CompilePlan(new Graph([x], [IrBuilder.Linear(x, IrBuilder.Constant(q.Dequantize(), "w"), null)]), options);
            quant.Run([input]);
            f32.Run([input]);
            var tq = new List<double>();
            var tf = new List<double>();
            for (int r = 0; r < 5; r++)
            {
                var sw = Stopwatch.StartNew();
                quant.Run([input]);
                tq.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                f32.Run([input]);
                tf.Add(sw.Elapsed.TotalMilliseconds);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{type} [{m}, {k}] x [{n}, {k}]^T: quantized {tq.Min():F2} ms, f32 packed {tf.Min():F2} ms"));
        }

        return 0;
    }

    private static int Int(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
