using Candle.Runtime.Tensors;

namespace Candle.Transformers.Tests;

internal static class TestUtil
{
    public static double MaxAbsDiff(HostTensor a, HostTensor b)
    {
        Assert.Equal(b.Shape, a.Shape);
        var x = a.ToFloat32();
        var y = b.ToFloat32();
        double m = 0;
        for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs((double)x[i] - y[i]));
        return m;
    }

    public static float[] Row(HostTensor t, int index, int width) => t.ToFloat32().AsSpan(index * width, width).ToArray();
}
