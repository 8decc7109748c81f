using Candle.Compiler.Ir;

namespace Candle.Torch.Tests;

internal static class Check
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e))
            {
                Assert.True(double.IsNaN(a), $"element {i}: expected NaN, got {a}");
                continue;
            }

            if (double.IsInfinity(e))
            {
                Assert.True(e == a, $"element {i}: expected {e}, got {a}");
                continue;
            }

            Assert.True(Math.Abs(e - a) <= tol * (1 + Math.Abs(e)), $"element {i}: expected {e}, got {a}");
        }
    }

    public static void Close(float[] expected, Tensor actual, double tol = 1e-5) => Close(expected, actual.ToFloatArray(), tol);

    public static void Shape(Tensor t, params long[] dims) => Assert.Equal(Candle.Compiler.Ir.Shape.Of(dims), t.Shape);

    public static float[] Seq(int n, float start = 0, float step = 1) => [.. Enumerable.Range(0, n).Select(i => start + (i * step))];

    public static float[] Rand(int n, int seed, float lo = -1, float hi = 1)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => lo + ((hi - lo) * (float)r.NextDouble()))];
    }
}
