using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The K-quant and IQ4 quantizers within ggml's own error bounds (test-quantize-fns.cpp: data 0.1 + 2·cos(i + offset),
/// 4096 values, error = √Σ(x − y)² / n), plus exact cases computed by hand.
/// </summary>
public sealed class KQuantizeTests
{
    private static float[] Synthetic(float offset, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = 0.1f + 2 * MathF.Cos(i + offset);
        return x;
    }

    private static float[] RoundTrip(GgmlType type, float[] x)
    {
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, x.Length)];
        GgmlTypeTraits.Quantize(type, x, bytes);
        var y = new float[x.Length];
        GgmlTypeTraits.Dequantize(type, bytes, y);
        return y;
    }

    [Theory]
    [InlineData(GgmlType.Q2_K, 0.0075f)]
    [InlineData(GgmlType.Q3_K, 0.0040f)]
    [InlineData(GgmlType.Q4_K, 0.002f)]
    [InlineData(GgmlType.Q5_K, 0.002f)]
    [InlineData(GgmlType.Q6_K, 0.002f)]
    [InlineData(GgmlType.IQ4_NL, 0.002f)]
    [InlineData(GgmlType.IQ4_XS, 0.002f)]
    [InlineData(GgmlType.Q4_0, 0.002f)]
    [InlineData(GgmlType.Q4_1, 0.002f)]
    [InlineData(GgmlType.Q5_0, 0.002f)]
    [InlineData(GgmlType.Q5_1, 0.002f)]
    [InlineData(GgmlType.Q8_0, 0.002f)]
    public void TotalErrorIsWithinGgmlsBound(GgmlType type, float bound)
    {
        foreach (float offset in new[] { 0f, 1f, 0.37f })
        {
            var x = Synthetic(offset, 32 * 128);
            var y = RoundTrip(type, x);
            double sum = 0;
            for (int i = 0; i < x.Length; i++) sum += (double)(x[i] - y[i]) * (x[i] - y[i]);
            float error = MathF.Sqrt((float)sum) / x.Length;
            Assert.True(error < bound, $"{type}: error {error} ≥ {bound}");
        }
    }

    [Theory]
    [InlineData(GgmlType.Q2_K, 1.3f)]
    [InlineData(GgmlType.Q3_K, 0.9f)]
    [InlineData(GgmlType.Q4_K, 0.4f)]
    [InlineData(GgmlType.Q5_K, 0.2f)]
    [InlineData(GgmlType.Q6_K, 0.1f)]
    [InlineData(GgmlType.IQ4_NL, 0.5f)]
    [InlineData(GgmlType.IQ4_XS, 0.5f)]
    public void RandomRowsStayWithinAFractionOfTheirRange(GgmlType type, float fraction)
    {
        // Every value comes back within the given fraction of a quantization step of its 2^bits-level grid over the row's range.
        var rng = new Random(7);
        var x = new float[256 * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + i / 256);
        var y = RoundTrip(type, x);
        int bits = type switch { GgmlType.Q2_K => 2, GgmlType.Q3_K => 3, GgmlType.Q5_K => 5, GgmlType.Q6_K => 6, _ => 4 };
        for (int b = 0; b < x.Length; b += 256)
        {
            float range = 2 * (1 + b / 256);
            float step = range / ((1 << bits) - 1);
            for (int i = b; i < b + 256; i++)
            {
                Assert.True(MathF.Abs(x[i] - y[i]) <= fraction * step + step / 2, $"{type} value {i}: {x[i]} came back as {y[i]}");
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q2_K)]
    [InlineData(GgmlType.Q3_K)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.IQ4_XS)]
    public void ZerosStayZero(GgmlType type)
    {
        var y = RoundTrip(type, new float[512]);
        Assert.All(y, v => Assert.Equal(0f, MathF.Abs(v)));
    }

    [Fact]
    public void Q6_KOfSmallIntegersIsExact()
    {
        // x = k·2^-4 with k in [−32, 31] and k = −32 in every 16 values: every sub-block scale is 2^-4, the 8-bit scales
        // are all −128 against d = −2^-11, and 6-bit signed quants represent every value exactly.
        var x = new float[256];
        for (int i = 0; i < 256; i++) x[i] = (i % 16 == 0 ? -32 : (i * 13 % 63) - 31) / 16f;
        var y = RoundTrip(GgmlType.Q6_K, x);
        for (int i = 0; i < 256; i++) Assert.True(x[i] == y[i], $"value {i}: {x[i]} came back as {y[i]}");
    }
}
