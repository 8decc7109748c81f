using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Reference;

/// <summary>Small helpers for building and running graphs in the reference tests.</summary>
internal static class Ref
{
    private static int s_counter;

    /// <summary>A fresh graph input for a concrete tensor.</summary>
    public static Node In(HostTensor t, string? name = null) =>
        IrBuilder.Input(name ?? $"in{Interlocked.Increment(ref s_counter)}", t.DType, Shape.Of(t.Shape));

    public static HostTensor F32(float[] v, params int[] shape) => HostTensor.FromArray(v, shape.Length == 0 && v.Length != 1 ? [v.Length] : shape);

    public static HostTensor F64(double[] v, params int[] shape) => HostTensor.FromArray(v, shape.Length == 0 && v.Length != 1 ? [v.Length] : shape);

    public static HostTensor I64(long[] v, params int[] shape) => HostTensor.FromArray(v, shape.Length == 0 && v.Length != 1 ? [v.Length] : shape);

    public static HostTensor Of(DType dt, double[] v, params int[] shape) => HostTensor.FromDoubles(dt, v, shape.Length == 0 && v.Length != 1 ? [v.Length] : shape);

    /// <summary>Runs f on graph inputs bound to <paramref name="values"/> and returns the single output.</summary>
    public static HostTensor Run(Func<Node[], Node> f, params HostTensor[] values)
    {
        var ins = values.Select(v => In(v)).ToArray();
        var g = new Graph(ins, [f(ins)]);
        Verifier.Verify(g);
        return ReferenceInterpreter.Run(g, values)[0];
    }

    public static HostTensor Unary(Op op, HostTensor x) => Run(i => IrBuilder.Unary(op, i[0]), x);

    public static HostTensor Binary(Op op, HostTensor a, HostTensor b) => Run(i => IrBuilder.Binary(op, i[0], i[1]), a, b);

    public static double[] D(HostTensor t) => t.ToFloat64();

    public static long[] L(HostTensor t) => t.ToInt64();

    /// <summary>Deterministic pseudo-random floats in [-scale, scale).</summary>
    public static float[] Rand(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(((r.NextDouble() * 2) - 1) * scale);
        return v;
    }

    public static void Close(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double tol)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e))
            {
                Assert.True(double.IsNaN(a), $"element {i}: expected NaN, got {a}");
                continue;
            }

            Assert.True(Math.Abs(e - a) <= tol * Math.Max(1, Math.Abs(e)), $"element {i}: expected {e}, got {a}");
        }
    }

    public static void Close(IReadOnlyList<float> expected, IReadOnlyList<double> actual, double tol) =>
        Close(expected.Select(x => (double)x).ToArray(), actual, tol);
}
