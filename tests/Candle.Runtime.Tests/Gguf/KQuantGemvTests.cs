using System.Buffers.Binary;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The multi-row k-quant GEMV (<see cref="KQuantGemv"/>): its integer sums against an integer computation from the
/// dequantized values, its results against the single-row integer dot (<see cref="QuantRowDot"/>, the same exact sums in
/// another float32 order) and against a double-precision dot of the dequantized weights with the unrounded activations,
/// and the quantized matmul's decode path (1 to 3 activation rows) that runs it.
/// </summary>
public sealed unsafe class KQuantGemvTests
{
    public static TheoryData<GgmlType, int, int> Shapes =>
        new()
        {
            { GgmlType.Q4_K, 1, 256 },
            { GgmlType.Q4_K, 7, 512 },
            { GgmlType.Q4_K, 8, 2048 },
            { GgmlType.Q4_K, 27, 768 },
            { GgmlType.Q5_K, 3, 256 },
            { GgmlType.Q5_K, 17, 1024 },
            { GgmlType.Q6_K, 1, 512 },
            { GgmlType.Q6_K, 9, 256 },
            { GgmlType.Q6_K, 29, 1280 },
        };

    /// <summary>
    /// With every weight and activation scale 1 (and random bytes everywhere else, activations over the whole ±127), each
    /// value is an integer and so is every partial sum, below 2^24: the float32 result is the exact integer dot, in any
    /// order of additions, unless the int32 sums were wrong (a saturated 16-bit pair, a lost sign, a wrong scale).
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Integer_sums_are_exact(GgmlType type, int count, int k)
    {
        if (!KQuantGemv.Supports(type)) return; // no AVX2: the product runs the portable single-row dots instead
        var rng = new Random((count * 31) + k + (int)type);
        int nb = k / 256, bb = GgmlTypeTraits.BlockBytes(type);
        var w = new byte[count * nb * bb];
        rng.NextBytes(w);
        int[] scaleOffsets = type == GgmlType.Q6_K ? [208] : [0, 2];
        for (int b = 0; b < count * nb; b++)
        {
            foreach (int o in scaleOffsets) BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan((b * bb) + o, 2), (Half)1);
        }

        var xq = new byte[nb * 292];
        var q = new sbyte[k];
        for (int b = 0; b < nb; b++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(xq.AsSpan(b * 292, 4), 1f);
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++)
                {
                    int l = (b * 256) + (g * 16) + i;
                    q[l] = (sbyte)rng.Next(-127, 128);
                    xq[(b * 292) + 4 + (g * 16) + i] = (byte)q[l];
                    sum += q[l];
                }

                BinaryPrimitives.WriteInt16LittleEndian(xq.AsSpan((b * 292) + 260 + (2 * g), 2), (short)sum);
            }
        }

        var y = Gemv(type, w, xq, nb, count);
        var wd = new float[count * k];
        GgmlTypeTraits.Dequantize(type, w, wd);
        for (int j = 0; j < count; j++)
        {
            long exact = 0, magnitude = 0;
            for (int i = 0; i < k; i++)
            {
                long wv = (long)wd[(j * k) + i];
                Assert.Equal(wv, (double)wd[(j * k) + i]); // the dequantized values are integers here
                exact += wv * q[i];
                magnitude += Math.Abs(wv * q[i]);
            }

            // Exact whenever no partial sum can leave the integers float32 holds exactly (all but the rarest draws).
            double tolerance = magnitude < (1 << 24) ? 0 : magnitude * Math.Pow(2, -22);
            Assert.True(Math.Abs(y[j] - exact) <= tolerance, $"{type} row {j} of {count}, k={k}: gemv {y[j]} vs exact {exact} (Σ|terms| {magnitude})");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gemv_matches_the_single_row_dot_and_the_dequantized_dot(GgmlType type, int count, int k)
    {
        if (!KQuantGemv.Supports(type)) return;
        var rng = new Random((count * 100) + k + (int)type);
        int nb = k / 256, rowBytes = (int)GgmlTypeTraits.ByteCount(type, k);
        var w = QuantRowDotTests.RandomBlocks(rng, type, count * k);
        var x = RandomActivations(rng, k);
        var xq = new byte[nb * 292];
        QuantActivations.QuantizeQ8_K(x, xq);
        var y = Gemv(type, w, xq, nb, count);
        var single = new float[count];
        fixed (byte* wp = w)
        fixed (byte* a = xq)
        {
            for (int j = 0; j < count; j++) single[j] = QuantRowDot.Dot(type, wp + (j * rowBytes), a, nb);
        }

        var wd = new float[count * k];
        GgmlTypeTraits.Dequantize(type, w, wd);
        var ad = new float[k];
        BlockQ8_K.Dequantize(xq, ad);
        for (int j = 0; j < count; j++) CheckRow(type, $"row {j} of {count}, k={k}", y[j], single[j], wd.AsSpan(j * k, k), x, ad, nb);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 1, 37, 512)]
    [InlineData(GgmlType.Q4_K, 2, 131, 256)]
    [InlineData(GgmlType.Q4_K, 3, 67, 768)]
    [InlineData(GgmlType.Q6_K, 1, 33, 256)]
    [InlineData(GgmlType.Q6_K, 3, 131, 512)]
    [InlineData(GgmlType.Q5_K, 2, 45, 512)]
    public void Decode_product_of_one_to_three_rows_matches_the_single_row_dots(GgmlType type, int rows, int n, int k)
    {
        var rng = new Random((rows * 1000) + n + k);
        int nb = k / 256, rowBytes = (int)GgmlTypeTraits.ByteCount(type, k);
        var w = QuantRowDotTests.RandomBlocks(rng, type, n * k);
        var x = new float[rows * k];
        for (int m = 0; m < rows; m++) RandomActivations(rng, k).CopyTo(x, m * k);
        var y = new float[rows * n];
        var single = new float[rows * n];
        var xq = new byte[rows * nb * 292];
        for (int m = 0; m < rows; m++) QuantActivations.QuantizeQ8_K(x.AsSpan(m * k, k), xq.AsSpan(m * nb * 292, nb * 292));
        fixed (float* xp = x)
        fixed (byte* wp = w)
        fixed (float* yp = y)
        fixed (byte* a = xq)
        {
            QuantMatMulKernel.Run([(nint)xp, (nint)wp, (nint)yp], [0, 1, 2, (long)type, rows, n, k], 0, 1);
            for (int m = 0; m < rows; m++)
            {
                for (int j = 0; j < n; j++) single[(m * n) + j] = QuantRowDot.Dot(type, wp + (j * rowBytes), a + (m * nb * 292), nb);
            }
        }

        var wd = new float[n * k];
        GgmlTypeTraits.Dequantize(type, w, wd);
        var ad = new float[k];
        for (int m = 0; m < rows; m++)
        {
            BlockQ8_K.Dequantize(xq.AsSpan(m * nb * 292, nb * 292), ad);
            for (int j = 0; j < n; j++)
            {
                CheckRow(type, $"activation row {m} of {rows}, weight row {j} of {n}, k={k}", y[(m * n) + j], single[(m * n) + j], wd.AsSpan(j * k, k), x.AsSpan(m * k, k), ad, nb);
            }
        }
    }

    private static float[] Gemv(GgmlType type, byte[] w, byte[] xq, int nb, int count)
    {
        var y = new float[count];
        fixed (byte* wp = w)
        fixed (byte* a = xq)
        fixed (float* yp = y)
        {
            KQuantGemv.Run(type, wp, nb * GgmlTypeTraits.BlockBytes(type), a, nb, yp, count);
        }

        return y;
    }

    private static float[] RandomActivations(Random rng, int k)
    {
        var x = new float[k];
        for (int i = 0; i < k; i++) x[i] = (float)(((rng.NextDouble() * 2) - 1) * Math.Pow(10, rng.Next(-2, 2)));
        return x;
    }

    /// <summary>
    /// <paramref name="y"/> against the single-row dot (same int32 sums, float32 additions in another order), the double dot
    /// with the rounded activations <paramref name="ad"/> (the same up to float32 rounding) and with the unrounded
    /// <paramref name="x"/> (within half a step of the 8-bit grid per activation).
    /// </summary>
    private static void CheckRow(GgmlType type, string what, float y, float single, ReadOnlySpan<float> wd, ReadOnlySpan<float> x, float[] ad, int nb)
    {
        double exact = 0, withRounded = 0, bound = 0, magnitude = 0;
        for (int b = 0; b < x.Length; b += 256)
        {
            double amax = 0;
            for (int i = b; i < b + 256; i++) amax = Math.Max(amax, Math.Abs(x[i]));
            double step = amax / 254 * 1.001;
            for (int i = b; i < b + 256; i++)
            {
                exact += wd[i] * (double)x[i];
                withRounded += wd[i] * (double)ad[i];
                magnitude += Math.Abs(wd[i] * (double)ad[i]);
                bound += Math.Abs(wd[i]) * step;
            }
        }

        // The scale products d·d_a, dmin·d_a and the float32 additions (≤ 16 per super-block and the 8 lanes) round;
        // the minimum terms (Q4_K / Q5_K) can cancel the scaled sums, so they count in the magnitude as well.
        double order = 4 * ((16 * nb) + 8) * magnitude / (1 << 24);
        Assert.True(Math.Abs(y - single) <= order + 1e-12, $"{type} {what}: gemv {y} vs single row {single}");
        Assert.True(Math.Abs(y - withRounded) <= order + 1e-12, $"{type} {what}: gemv {y} vs {withRounded} with the rounded activations");
        Assert.True(Math.Abs(y - exact) <= bound + (1e-6 * magnitude) + 1e-9, $"{type} {what}: gemv {y} vs {exact} (bound {bound})");
    }
}
