using Candle.Runtime.Kernels.Quant;
using CsCheck;

namespace Candle.Runtime.Tests.Gguf;

public sealed class QuantizeAndDotTests
{
    private static readonly Gen<float[]> GenBlocks =
        Gen.Int[1, 8].SelectMany(n => Gen.Float[-4f, 4f].Array[n * 32]);

    private static float[] RoundTrip(GgmlType type, float[] x)
    {
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, x.Length)];
        GgmlTypeTraits.Quantize(type, x, bytes);
        var y = new float[x.Length];
        GgmlTypeTraits.Dequantize(type, bytes, y);
        return y;
    }

    private static void ForEachBlock(float[] x, float[] y, Func<float[], float> bound)
    {
        for (int b = 0; b < x.Length; b += 32)
        {
            var block = x.AsSpan(b, 32).ToArray();
            // Plus the f16 rounding of the stored scale, which every quant multiplies: at most max|x|·2^-11.
            float limit = bound(block) * 1.002f + block.Max(MathF.Abs) / 2048 + 1e-6f;
            for (int j = b; j < b + 32; j++)
            {
                if (!(MathF.Abs(x[j] - y[j]) <= limit))
                {
                    Assert.Fail($"value {j}: {x[j]} came back as {y[j]} (bound {limit})");
                }
            }
        }
    }

    [Fact]
    public void Q8_0ErrorIsAtMostHalfAStep()
    {
        GenBlocks.Sample(x => ForEachBlock(x, RoundTrip(GgmlType.Q8_0, x), b => b.Max(MathF.Abs) / 127 / 2), iter: 300);
    }

    [Fact]
    public void Q4_0ErrorIsAtMostOneStep()
    {
        // d = max|x|/8; the largest-magnitude value is exact, the opposite end clamps at 7·d: at most one step off.
        GenBlocks.Sample(x => ForEachBlock(x, RoundTrip(GgmlType.Q4_0, x), b => b.Max(MathF.Abs) / 8), iter: 300);
    }

    [Fact]
    public void Q5_0ErrorIsAtMostOneStep()
    {
        GenBlocks.Sample(x => ForEachBlock(x, RoundTrip(GgmlType.Q5_0, x), b => b.Max(MathF.Abs) / 16), iter: 300);
    }

    [Fact]
    public void Q4_1AndQ5_1ErrorIsAtMostHalfAStepPlusTheF16MinRounding()
    {
        static float Bound(float[] b, int levels) => (b.Max() - b.Min()) / levels / 2 + MathF.Abs(b.Min()) / 1024 + (b.Max() - b.Min()) / 1024;
        GenBlocks.Sample(x => ForEachBlock(x, RoundTrip(GgmlType.Q4_1, x), b => Bound(b, 15)), iter: 300);
        GenBlocks.Sample(x => ForEachBlock(x, RoundTrip(GgmlType.Q5_1, x), b => Bound(b, 31)), iter: 300);
    }

    [Fact]
    public void FloatFormatsRoundTripWithinTheirPrecision()
    {
        GenBlocks.Sample(x =>
        {
            Assert.Equal(x, RoundTrip(GgmlType.F32, x));
            ForEachBlock(x, RoundTrip(GgmlType.F16, x), b => b.Max(MathF.Abs) / 2048);
            ForEachBlock(x, RoundTrip(GgmlType.BF16, x), b => b.Max(MathF.Abs) / 256);
        }, iter: 100);
    }

    [Fact]
    public void KnownQ8_0AndQ4_0Blocks()
    {
        // x = j − 16: max|x| = 16 (at j = 0, value −16).
        var x = Enumerable.Range(0, 32).Select(j => (float)(j - 16)).ToArray();
        var q8 = new byte[34];
        BlockQ8_0.Quantize(x, q8);
        Assert.Equal((Half)(16f / 127), BitConverter.ToHalf(q8, 0));
        Assert.Equal(unchecked((byte)(sbyte)-127), q8[2]);  // −16 → −127
        Assert.Equal(0, q8[2 + 16]);                        // 0 → 0
        Assert.Equal(119, q8[2 + 31]);                      // 15·127/16 = 119.06 → 119

        var q4 = new byte[18];
        BlockQ4_0.Quantize(x, q4);
        Assert.Equal((Half)2.0, BitConverter.ToHalf(q4, 0)); // d = −16 / −8
        Assert.Equal(0, q4[2] & 0xF);                        // −16 / 2 + 8.5 = 0.5 → 0
        Assert.Equal(8, q4[2] >> 4);                         // value 16 is 0: 0 + 8.5 → 8
        Assert.Equal(15, q4[2 + 15] >> 4);                   // value 31 is 15: 7.5 + 8.5 = 16 → clamped 15

        var zeros = new byte[34];
        BlockQ8_0.Quantize(new float[32], zeros);
        Assert.All(zeros, b => Assert.Equal(0, b));
    }

    private static float ScalarDot(GgmlType type, byte[] row, float[] x)
    {
        var w = new float[x.Length];
        GgmlTypeTraits.Dequantize(type, row, w);
        double sum = 0;
        for (int i = 0; i < w.Length; i++)
        {
            sum += (double)w[i] * x[i];
        }

        return (float)sum;
    }

    private static float ExactQ8Dot(GgmlType type, byte[] row, byte[] xq)
    {
        // ggml_vec_dot_q*_q8_0: per block an exact integer sum of quants, times both scales, summed in float.
        int blockBytes = GgmlTypeTraits.BlockBytes(type);
        var wq = new float[32];
        var aq = new float[32];
        float total = 0;
        for (int b = 0; b < row.Length / blockBytes; b++)
        {
            var wBlock = row.AsSpan(b * blockBytes, blockBytes).ToArray();
            float dw = (float)BitConverter.ToHalf(wBlock, 0);
            float da = (float)BitConverter.ToHalf(xq, b * 34);
            int sumi = 0;
            for (int j = 0; j < 32; j++)
            {
                int qw = type == GgmlType.Q8_0 ? (sbyte)wBlock[2 + j] : j < 16 ? (wBlock[2 + j] & 0xF) - 8 : (wBlock[2 + j - 16] >> 4) - 8;
                sumi += qw * (sbyte)xq[b * 34 + 2 + j];
            }

            total += sumi * (dw * da);
        }

        return total;
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void DotProductsMatchScalarReferences(GgmlType type)
    {
        Gen.Select(GenBlocks, Gen.Int).Sample((w, seed) =>
        {
            var rng = new Random(seed);
            var x = w.Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var row = new byte[GgmlTypeTraits.ByteCount(type, w.Length)];
            GgmlTypeTraits.Quantize(type, w, row);
            var xq = new byte[GgmlTypeTraits.ByteCount(GgmlType.Q8_0, x.Length)];
            BlockQ8_0.Quantize(x, xq);
            float dot = type == GgmlType.Q8_0 ? BlockQ8_0.Dot(row, x) : BlockQ4_0.Dot(row, x);
            float expected = ScalarDot(type, row, x);
            Assert.True(MathF.Abs(dot - expected) <= 1e-4f * (1 + MathF.Abs(expected)) + 1e-3f, $"{dot} vs {expected}");
            float dotQ8 = type == GgmlType.Q8_0 ? BlockQ8_0.DotQ8_0(row, xq) : BlockQ4_0.DotQ8_0(row, xq);
            Assert.Equal(ExactQ8Dot(type, row, xq), dotQ8);
        }, iter: 200);
    }

    [Fact]
    public void DotRejectsMismatchedLengths()
    {
        Assert.Throws<ArgumentException>(() => BlockQ8_0.Dot(new byte[34], new float[31]));
        Assert.Throws<ArgumentException>(() => BlockQ4_0.DotQ8_0(new byte[18], new byte[33]));
        Assert.Throws<ArgumentException>(() => BlockQ4_0.Quantize(new float[32], new byte[17]));
    }
}
