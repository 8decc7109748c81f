using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>Compiles graphs with the CPU backend and compares them with the reference interpreter.</summary>
internal static class CpuHarness
{
    /// <summary>Compiles at <paramref name="optLevel"/> (0 by default: the graph is lowered as it is).</summary>
    public static Plan Compile(Graph g, int vectorBits = 0, int threads = 0, int optLevel = 0)
    {
        Verifier.Verify(g);
        return new CpuBackend(vectorBits).CompilePlan(g, new CompileOptions { Threads = threads, OptLevel = optLevel });
    }

    public static HostTensor Random(Random rng, DType dt, int[] shape, double lo = -3, double hi = 3)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var t = HostTensor.Zeros(dt, shape);
        for (long i = 0; i < n; i++)
        {
            double v = dt switch
            {
                DType.Bool => rng.Next(2),
                DType.I64 or DType.I32 or DType.I8 => rng.Next(-5, 6),
                DType.U8 => rng.Next(0, 10),
                _ => lo + ((hi - lo) * rng.NextDouble()),
            };
            t.SetDouble(i, v);
        }

        return t;
    }

    /// <summary>
    /// Runs both and asserts |cpu − ref| ≤ atol + rtol·|ref| element by element (NaNs must match). Without a
    /// <paramref name="plan"/>, the graph is compiled as it is (O0) and through the default pipeline (O2), and both are checked.
    /// </summary>
    public static HostTensor[] CheckAgainstReference(Graph g, HostTensor[] inputs, double atol, double rtol, int vectorBits = 0, int threads = 0, Plan? plan = null)
    {
        var expected = ReferenceInterpreter.Run(g, inputs);
        if (plan is null)
        {
            var optimized = Compile(g, vectorBits, threads, optLevel: 2);
            AssertClose(expected, optimized.Run(inputs), atol, rtol, () => "O2:\n" + optimized.Describe());
        }

        plan ??= Compile(g, vectorBits, threads);
        var actual = plan.Run(inputs);
        AssertClose(expected, actual, atol, rtol, () => plan.Describe());
        return actual;
    }

    public static void AssertClose(HostTensor[] expected, HostTensor[] actual, double atol, double rtol, Func<string>? context = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int o = 0; o < expected.Length; o++)
        {
            var e = expected[o];
            var a = actual[o];
            Assert.Equal(e.DType, a.DType);
            Assert.Equal(e.Shape, a.Shape);
            for (long i = 0; i < e.ElementCount; i++)
            {
                if (!e.DType.IsFloat())
                {
                    if (e.GetInt64(i) != a.GetInt64(i))
                    {
                        Assert.Fail($"output {o} element {i}: expected {e.GetInt64(i)}, got {a.GetInt64(i)} ({e.DType.TorchName()}{string.Join(",", e.Shape)})\n{context?.Invoke()}");
                    }

                    continue;
                }

                double x = e.GetDouble(i), y = a.GetDouble(i);
                if (double.IsNaN(x) && double.IsNaN(y)) continue;
                if (double.IsInfinity(x) && x == y) continue;
                if (!(Math.Abs(x - y) <= atol + (rtol * Math.Abs(x))))
                {
                    Assert.Fail($"output {o} element {i} of {e.ElementCount}: expected {x:R}, got {y:R} ({e.DType.TorchName()}[{string.Join(",", e.Shape)}])\n{context?.Invoke()}");
                }
            }
        }
    }

    /// <summary>Tolerances per dtype for f32-computed results: f32 a few ulp, f16/bf16 one rounding step.</summary>
    public static (double Atol, double Rtol) Tolerance(DType dt, double f32Rtol = 2e-6, double f32Atol = 1e-6) => dt switch
    {
        DType.F16 => (2e-3, 2e-3),
        DType.BF16 => (1.6e-2, 1.6e-2),
        DType.F64 => (1e-12, 1e-12),
        _ => (f32Atol, f32Rtol),
    };
}
