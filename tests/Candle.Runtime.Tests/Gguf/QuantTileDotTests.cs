using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The register tiles of the Q8_0 / Q4_0 product (<see cref="QuantTileDot"/>): bit-identical to the single-row integer
/// dot products (<see cref="QuantRowDot"/>) for every pair of the tile, and within the activation-rounding bound of a
/// double-precision dot product of the dequantized weights with the unrounded activations.
/// </summary>
public sealed unsafe class QuantTileDotTests
{
    public static TheoryData<GgmlType> Types => [GgmlType.Q8_0, GgmlType.Q4_0];

    private sealed record Case(byte[] W, int RowBytes, float[] X, byte[] Xq, int XRowBytes, int[] Offsets, int Nb);

    private static Case Make(GgmlType type, int seed, int wRows, int aRows, int k)
    {
        var rng = new Random(seed);
        int rowBytes = (int)GgmlTypeTraits.ByteCount(type, k);
        var w = QuantRowDotTests.RandomBlocks(rng, type, wRows * k);
        var x = new float[aRows * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(((rng.NextDouble() * 2) - 1) * Math.Pow(10, rng.Next(-2, 2)));
        int xRowBytes = QuantActivations.RowBytes(GgmlType.Q8_0, k);
        var xq = new byte[aRows * xRowBytes];
        for (int m = 0; m < aRows; m++) QuantActivations.QuantizeQ8_0(x.AsSpan(m * k, k), xq.AsSpan(m * xRowBytes, xRowBytes));
        int nb = k / 32;
        var offsets = new int[Math.Max(1, aRows * nb * 8)];
        fixed (byte* a = xq)
        fixed (int* o = offsets)
        {
            for (int m = 0; m < aRows; m++) QuantTileDot.NibbleOffsets(a + (m * xRowBytes), nb, o + (m * nb * 8));
        }

        return new Case(w, rowBytes, x, xq, xRowBytes, offsets, nb);
    }

    [Fact]
    public void Nibble_offsets_are_eight_times_the_sums_of_each_half_block()
    {
        var c = Make(GgmlType.Q8_0, 3, 1, 2, 96);
        for (int m = 0; m < 2; m++)
        {
            for (int b = 0; b < c.Nb; b++)
            {
                for (int l = 0; l < 8; l++)
                {
                    int sum = 0;
                    for (int i = 0; i < 16; i++) sum += (sbyte)c.Xq[(m * c.XRowBytes) + (b * 34) + 2 + (16 * (l / 4)) + i];
                    Assert.Equal(8 * sum, c.Offsets[(((m * c.Nb) + b) * 8) + l]);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Prefill_and_decode_tiles_agree_bitwise_and_with_the_single_row_dot_products_up_to_float_ordering(GgmlType type)
    {
        if (!QuantRowDot.IsAccelerated) return; // the kernel uses neither path without AVX2
        foreach (int k in new[] { 32, 96, 544 })
        {
            var c = Make(type, k + (int)type, 4, 4, k);
            var tile = new float[4 * 4];
            var row = new float[4];
            fixed (byte* w = c.W)
            fixed (byte* a = c.Xq)
            fixed (int* o = c.Offsets)
            fixed (float* t = tile)
            fixed (float* r = row)
            {
                QuantTileDot.Tile4x4(type, w, c.RowBytes, a, c.XRowBytes, o, c.Nb * 8, c.Nb, t, 4);
                for (int m = 0; m < 4; m++)
                {
                    QuantTileDot.Tile1x4(type, w, c.RowBytes, a + (m * c.XRowBytes), o + (m * c.Nb * 8), c.Nb, r);
                    for (int j = 0; j < 4; j++)
                    {
                        // The 4 × 4 tile and the 1 × 4 tile run the same operations per activation row.
                        Assert.Equal(BitConverter.SingleToInt32Bits(row[j]), BitConverter.SingleToInt32Bits(tile[(m * 4) + j]));

                        // The single-row dot sums the same exact int32 block products with float32 additions in another order:
                        // each of the ≤ 2·nb + 8 additions rounds by at most 2^-24 of the running magnitude.
                        float single = QuantRowDot.Dot(type, w + (j * c.RowBytes), a + (m * c.XRowBytes), c.Nb);
                        double magnitude = Magnitude(type, c, j, m);
                        Assert.True(Math.Abs(single - tile[(m * 4) + j]) <= 2 * ((2 * c.Nb) + 8) * magnitude / (1 << 24), $"{type} k={k} y[{m}, {j}]: tile {tile[(m * 4) + j]} vs single row {single}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Tiles_are_within_the_activation_rounding_bound_of_the_dequantized_dot(GgmlType type)
    {
        if (!QuantRowDot.IsAccelerated) return;
        const int K = 288;
        var c = Make(type, 40 + (int)type, 4, 4, K);
        var wd = new float[4 * K];
        GgmlTypeTraits.Dequantize(type, c.W, wd);
        var tile = new float[16];
        fixed (byte* w = c.W)
        fixed (byte* a = c.Xq)
        fixed (int* o = c.Offsets)
        fixed (float* t = tile)
        {
            QuantTileDot.Tile4x4(type, w, c.RowBytes, a, c.XRowBytes, o, c.Nb * 8, c.Nb, t, 4);
        }

        for (int m = 0; m < 4; m++)
        {
            for (int j = 0; j < 4; j++)
            {
                double exact = 0, bound = 0, magnitude = 0;
                for (int b = 0; b < K; b += 32)
                {
                    double amax = 0;
                    for (int i = b; i < b + 32; i++) amax = Math.Max(amax, Math.Abs(c.X[(m * K) + i]));

                    // Half a step of the 8-bit grid plus the f16 rounding of the block scale (2^-11 relative, times 127 steps).
                    double step = (amax / 254 * 1.001) + (amax / 2048);
                    for (int i = b; i < b + 32; i++)
                    {
                        double p = (double)wd[(j * K) + i] * c.X[(m * K) + i];
                        exact += p;
                        magnitude += Math.Abs(p);
                        bound += Math.Abs(wd[(j * K) + i]) * step;
                    }
                }

                Assert.True(Math.Abs(tile[(m * 4) + j] - exact) <= bound + (1e-6 * magnitude) + 1e-9, $"{type} y[{m}, {j}] = {tile[(m * 4) + j]} vs {exact} (bound {bound})");
            }
        }
    }

    /// <summary>Σ over blocks of |d_w·d_a·Σ q_w·q_a| (upper bound of every partial sum's magnitude), from the dequantized values.</summary>
    private static double Magnitude(GgmlType type, Case c, int j, int m)
    {
        int k = c.Nb * 32;
        var wd = new float[k];
        var ad = new float[k];
        GgmlTypeTraits.Dequantize(type, c.W.AsSpan(j * c.RowBytes, c.RowBytes), wd);
        BlockQ8_0.Dequantize(c.Xq.AsSpan(m * c.XRowBytes, c.XRowBytes), ad);
        double sum = 0;
        for (int i = 0; i < k; i++) sum += Math.Abs((double)wd[i] * ad[i]);
        return sum;
    }
}
