using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The 8-row Q4_0 / Q8_0 GEMV (<see cref="QuantGemv"/>): its prepared offsets against sums of the activation bytes, and its
/// results against the single-row integer dot (<see cref="QuantRowDot"/>, the same exact block sums in another float32
/// order) and against a double-precision dot of the dequantized weights with the unrounded activations.
/// </summary>
public sealed unsafe class QuantGemvTests
{
    [Fact]
    public void Prepared_data_is_minus_eight_times_each_lane_sum_and_the_block_scale()
    {
        var rng = new Random(5);
        const int K = 96;
        var x = new float[K];
        for (int i = 0; i < K; i++) x[i] = (float)((rng.NextDouble() * 6) - 3);
        var xq = new byte[QuantActivations.RowBytes(GgmlType.Q8_0, K)];
        QuantActivations.QuantizeQ8_0(x, xq);
        var prepared = new int[3 * QuantGemv.PreparedInts];
        fixed (byte* a = xq)
        fixed (int* p = prepared)
        {
            QuantGemv.Prepare(a, 3, p);
        }

        for (int b = 0; b < 3; b++)
        {
            for (int l = 0; l < 8; l++)
            {
                int sum = 0;
                for (int i = 0; i < 4; i++) sum += (sbyte)xq[(b * 34) + 2 + (4 * l) + i];
                Assert.Equal(-8 * sum, prepared[(b * QuantGemv.PreparedInts) + l]);
            }

            Assert.Equal((float)BitConverter.ToHalf(xq, b * 34), BitConverter.Int32BitsToSingle(prepared[(b * QuantGemv.PreparedInts) + 8]));
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 1, 32)]
    [InlineData(GgmlType.Q4_0, 7, 96)]
    [InlineData(GgmlType.Q4_0, 8, 544)]
    [InlineData(GgmlType.Q4_0, 27, 288)]
    [InlineData(GgmlType.Q8_0, 3, 64)]
    [InlineData(GgmlType.Q8_0, 29, 288)]
    public void Gemv_matches_the_single_row_dot_and_the_dequantized_dot(GgmlType type, int count, int k)
    {
        if (!QuantGemv.Supports(type)) return; // no AVX2: the product takes the dequantizing path instead
        var rng = new Random((count * 100) + k);
        int nb = k / 32, rowBytes = (int)GgmlTypeTraits.ByteCount(type, k);
        var w = QuantRowDotTests.RandomBlocks(rng, type, count * k);
        var x = new float[k];
        for (int i = 0; i < k; i++) x[i] = (float)(((rng.NextDouble() * 2) - 1) * Math.Pow(10, rng.Next(-2, 2)));
        var xq = new byte[nb * 34];
        QuantActivations.QuantizeQ8_0(x, xq);
        var prepared = new int[nb * QuantGemv.PreparedInts];
        var y = new float[count];
        var single = new float[count];
        fixed (byte* wp = w)
        fixed (byte* a = xq)
        fixed (int* p = prepared)
        fixed (float* yp = y)
        {
            QuantGemv.Prepare(a, nb, p);
            QuantGemv.Run(type, wp, rowBytes, a, p, nb, yp, count);
            for (int j = 0; j < count; j++) single[j] = QuantRowDot.Dot(type, wp + (j * rowBytes), a, nb);
        }

        var wd = new float[count * k];
        GgmlTypeTraits.Dequantize(type, w, wd);
        var ad = new float[k];
        BlockQ8_0.Dequantize(xq, ad);
        for (int j = 0; j < count; j++)
        {
            double exact = 0, withRounded = 0, bound = 0, magnitude = 0;
            for (int b = 0; b < k; b += 32)
            {
                double amax = 0;
                for (int i = b; i < b + 32; i++) amax = Math.Max(amax, Math.Abs(x[i]));

                // Half a step of the 8-bit grid plus the f16 rounding of the block scale (2^-11 relative, times 127 steps).
                double step = (amax / 254 * 1.001) + (amax / 2048);
                for (int i = b; i < b + 32; i++)
                {
                    double wv = wd[(j * k) + i];
                    exact += wv * x[i];
                    withRounded += wv * ad[i];
                    magnitude += Math.Abs(wv * ad[i]);
                    bound += Math.Abs(wv) * step;
                }
            }

            // Same exact int32 block sums as the single-row dot and as the dequantized product with the rounded
            // activations; only the float32 additions (≤ 2·nb + 8 of them) and the scale products round.
            double order = 2 * ((2 * nb) + 8) * magnitude / (1 << 24);
            Assert.True(Math.Abs(y[j] - single[j]) <= order + 1e-12, $"{type} row {j} of {count}, k={k}: gemv {y[j]} vs single row {single[j]}");
            Assert.True(Math.Abs(y[j] - withRounded) <= order + 1e-12, $"row {j}: gemv {y[j]} vs {withRounded} with the rounded activations");
            Assert.True(Math.Abs(y[j] - exact) <= bound + (1e-6 * magnitude) + 1e-9, $"row {j}: gemv {y[j]} vs {exact} (bound {bound})");
        }
    }
}
