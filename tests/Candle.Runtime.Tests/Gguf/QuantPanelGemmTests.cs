using System.Buffers.Binary;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The packed-panel prefill product of Q8_0 / Q4_0 / Q4_K / Q6_K weights (<see cref="QuantPanelGemm"/>): bit-identical to
/// a scalar computation from the raw block bytes (exact integer block sums, each converted and scaled by d_w·d_a and added
/// block by block with a fused multiply-add), within float32 reordering of the single-row dots (<see cref="QuantRowDot"/>), and
/// within the activation-rounding bound of the dequantized dot; for every tile shape (1..4 activation rows, 1..8 weight
/// rows of a panel) and K of 1 to many blocks; on both the 256-bit path and, where the host has AVX-512 BW, the 512-bit
/// one (<c>wide</c>: Q4_K and Q6_K's 64-byte products; the same panels as the 256-bit path for Q4_0 and Q8_0).
/// </summary>
public sealed unsafe class QuantPanelGemmTests
{
    public static TheoryData<GgmlType> Types => [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];

    /// <summary>Every weight type on the 256-bit path (false) and the 512-bit one (true, skipped where the host lacks AVX-512 BW).</summary>
    public static TheoryData<GgmlType, bool> Paths => new()
    {
        { GgmlType.Q8_0, false }, { GgmlType.Q4_0, false }, { GgmlType.Q4_K, false }, { GgmlType.Q6_K, false },
        { GgmlType.Q8_0, true }, { GgmlType.Q4_0, true }, { GgmlType.Q4_K, true }, { GgmlType.Q6_K, true },
    };

    /// <summary>False where the panel product of <paramref name="type"/> on the given path cannot run on this host.</summary>
    private static bool Runs(GgmlType type, bool wide) => QuantPanelGemm.Supports(type) && (!wide || QuantPanelGemm.WideSupported);

    private sealed record Case(byte[] W, int RowBytes, float[] X, byte[] Xq, int XRowBytes, int[] Prepared, int Nb);

    private static Case Make(GgmlType type, int seed, int wRows, int aRows, int k)
    {
        var rng = new Random(seed);
        int rowBytes = (int)GgmlTypeTraits.ByteCount(type, k);
        var w = QuantRowDotTests.RandomBlocks(rng, type, wRows * k);
        var x = new float[aRows * k];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(((rng.NextDouble() * 2) - 1) * Math.Pow(10, rng.Next(-2, 2)));
        return Quantize(type, w, rowBytes, x, aRows, k);
    }

    private static Case Quantize(GgmlType type, byte[] w, int rowBytes, float[] x, int aRows, int k)
    {
        var format = QuantActivations.VecDotType(type);
        int xRowBytes = QuantActivations.RowBytes(format, k);
        var xq = new byte[aRows * xRowBytes];
        for (int m = 0; m < aRows; m++) QuantActivations.Quantize(format, x.AsSpan(m * k, k), xq.AsSpan(m * xRowBytes, xRowBytes));
        return FromQuantized(type, w, rowBytes, x, xq, xRowBytes, aRows, k);
    }

    /// <summary>A case over activation rows given as quantized bytes (<paramref name="x"/>: their source, or empty), with their prepared data for the 256-bit path.</summary>
    private static Case FromQuantized(GgmlType type, byte[] w, int rowBytes, float[] x, byte[] xq, int xRowBytes, int aRows, int k)
    {
        int nb = k / GgmlTypeTraits.BlockSize(type);
        return new Case(w, rowBytes, x, xq, xRowBytes, Prepared(type, xq, xRowBytes, aRows, nb, wide: false), nb);
    }

    /// <summary>The prepared data of the activation rows for <paramref name="type"/>'s product on the given path (a single zero when it needs none).</summary>
    private static int[] Prepared(GgmlType type, byte[] xq, int xRowBytes, int aRows, int nb, bool wide)
    {
        int per = QuantPanelGemm.PreparedIntsPerBlock(type, wide);
        var prepared = new int[Math.Max(1, aRows * nb * per)];
        if (per > 0)
        {
            fixed (byte* a = xq)
            fixed (int* p = prepared)
            {
                for (int m = 0; m < aRows; m++) QuantPanelGemm.Prepare(type, a + (m * xRowBytes), nb, p + (m * nb * per), wide);
            }
        }

        return prepared;
    }

    /// <summary>y[m, j] for all rows, driven as the matmul kernel drives it: panels of 8 weight rows, tiles of up to 4 activation rows.</summary>
    private static float[] Product(GgmlType type, Case c, int wRows, int aRows, bool wide)
    {
        var y = new float[aRows * wRows];
        var panel = new byte[c.Nb * QuantPanelGemm.PackedBlockBytes(type)];
        int preparedRow = c.Nb * QuantPanelGemm.PreparedIntsPerBlock(type, wide);
        var prepared = Prepared(type, c.Xq, c.XRowBytes, aRows, c.Nb, wide);
        fixed (byte* w = c.W)
        fixed (byte* a = c.Xq)
        fixed (int* p = prepared)
        fixed (byte* pp = panel)
        fixed (float* yp = y)
        {
            for (int j = 0; j < wRows; j += QuantPanelGemm.PanelRows)
            {
                int count = Math.Min(QuantPanelGemm.PanelRows, wRows - j);
                QuantPanelGemm.Pack(type, w + (j * c.RowBytes), c.RowBytes, count, c.Nb, pp, wide);
                for (int m = 0; m < aRows; m += QuantPanelGemm.ActivationRows)
                {
                    int rows = Math.Min(QuantPanelGemm.ActivationRows, aRows - m);
                    QuantPanelGemm.Multiply(type, pp, c.Nb, a + (m * c.XRowBytes), c.XRowBytes, p + (m * preparedRow), preparedRow, rows, yp + (m * wRows) + j, wRows, count, wide);
                }
            }
        }

        return y;
    }

    /// <summary>Weight value i of a Q8_0 or Q4_0 block from its bytes: Q8_0 the signed byte, Q4_0 the nibble (low: i &lt; 16) minus 8.</summary>
    private static int Value(GgmlType type, ReadOnlySpan<byte> block, int i) => type == GgmlType.Q8_0
        ? (sbyte)block[2 + i]
        : (i < 16 ? block[2 + i] & 0xF : block[2 + i - 16] >> 4) - 8;

    /// <summary>Q4_K value i (0..255) of a super-block without scale and minimum: the nibble (ggml's layout: 64 values per 32 bytes).</summary>
    private static int Q4_KNibble(ReadOnlySpan<byte> block, int i)
    {
        byte q = block[16 + (32 * (i / 64)) + (i % 32)];
        return i % 64 < 32 ? q & 0xF : q >> 4;
    }

    /// <summary>Q6_K value i (0..255) of a super-block, unsigned (0..63): 4 low bits from ql, 2 high bits from qh.</summary>
    private static int Q6_KValue(ReadOnlySpan<byte> block, int i)
    {
        int h = i / 128, quadrant = i % 128 / 32, l = i % 32;
        byte ql = block[(64 * h) + l + (quadrant % 2 == 1 ? 32 : 0)];
        int low = quadrant < 2 ? ql & 0xF : ql >> 4;
        int high = (block[128 + (32 * h) + l] >> (2 * quadrant)) & 3;
        return low | (high << 4);
    }

    /// <summary>Every element of <paramref name="y"/> ([aRows, wRows]) bit-identical to the scalar oracle.</summary>
    private static void AssertMatchesOracle(GgmlType type, Case c, float[] y, int wRows, int aRows, string context)
    {
        for (int m = 0; m < aRows; m++)
        {
            for (int j = 0; j < wRows; j++)
            {
                float expected = Oracle(type, c, j, m);
                Assert.True(
                    BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[(m * wRows) + j]),
                    $"{context} y[{m}, {j}] = {y[(m * wRows) + j]} vs {expected}");
            }
        }
    }

    /// <summary>
    /// Σ over blocks, in order, of the exact integer block sum converted to float32, times d_w·d_a, added with a fused
    /// multiply-add (Q4_K: then the minimums' sum times dmin·d_a subtracted the same way), from the raw bytes.
    /// </summary>
    private static float Oracle(GgmlType type, Case c, int j, int m)
    {
        int blockBytes = GgmlTypeTraits.BlockBytes(type), aBlockBytes = type is GgmlType.Q4_K or GgmlType.Q6_K ? 292 : 34;
        float acc = 0;
        for (int b = 0; b < c.Nb; b++)
        {
            var wb = c.W.AsSpan((j * c.RowBytes) + (b * blockBytes), blockBytes);
            var ab = c.Xq.AsSpan((m * c.XRowBytes) + (b * aBlockBytes), aBlockBytes);
            switch (type)
            {
                case GgmlType.Q4_K:
                {
                    long sum = 0, mins = 0;
                    for (int sub = 0; sub < 8; sub++)
                    {
                        var (scale, min) = KQuantScales.Get(sub, wb.Slice(4, 12));
                        long s = 0, a = 0;
                        for (int i = 32 * sub; i < (32 * sub) + 32; i++)
                        {
                            s += Q4_KNibble(wb, i) * (sbyte)ab[4 + i];
                            a += (sbyte)ab[4 + i];
                        }

                        sum += scale * s;
                        mins += min * a;
                    }

                    float da = BinaryPrimitives.ReadSingleLittleEndian(ab);
                    acc = MathF.FusedMultiplyAdd(sum, (float)BinaryPrimitives.ReadHalfLittleEndian(wb) * da, acc);
                    acc = MathF.FusedMultiplyAdd(-(float)mins, (float)BinaryPrimitives.ReadHalfLittleEndian(wb[2..]) * da, acc);
                    break;
                }

                case GgmlType.Q6_K:
                {
                    long sum = 0;
                    for (int g = 0; g < 16; g++)
                    {
                        long s = 0;
                        for (int i = 16 * g; i < (16 * g) + 16; i++) s += (Q6_KValue(wb, i) - 32) * (sbyte)ab[4 + i];
                        sum += (sbyte)wb[192 + g] * s;
                    }

                    float da = BinaryPrimitives.ReadSingleLittleEndian(ab);
                    acc = MathF.FusedMultiplyAdd(sum, (float)BinaryPrimitives.ReadHalfLittleEndian(wb[208..]) * da, acc);
                    break;
                }

                default:
                {
                    long sum = 0;
                    for (int i = 0; i < 32; i++) sum += Value(type, wb, i) * (long)(sbyte)ab[2 + i];
                    float dw = (float)BinaryPrimitives.ReadHalfLittleEndian(wb);
                    float da = (float)BinaryPrimitives.ReadHalfLittleEndian(ab);
                    acc = MathF.FusedMultiplyAdd(sum, dw * da, acc);
                    break;
                }
            }
        }

        return acc;
    }

    [Fact]
    public void Prepared_data_is_the_block_scale_and_eight_times_the_block_sum()
    {
        var c = Make(GgmlType.Q8_0, 3, 1, 2, 96);
        for (int m = 0; m < 2; m++)
        {
            for (int b = 0; b < c.Nb; b++)
            {
                var block = c.Xq.AsSpan((m * c.XRowBytes) + (b * 34), 34);
                int sum = 0;
                for (int i = 0; i < 32; i++) sum += (sbyte)block[2 + i];
                int at = ((m * c.Nb) + b) * QuantPanelGemm.PreparedInts;
                Assert.Equal((float)BinaryPrimitives.ReadHalfLittleEndian(block), BitConverter.Int32BitsToSingle(c.Prepared[at]));
                Assert.Equal(8 * sum, c.Prepared[at + 1]);
            }
        }
    }

    [Fact]
    public void Q4_K_prepared_data_is_the_sums_of_32_activation_quants_as_int16_pairs()
    {
        var c = Make(GgmlType.Q4_K, 5, 1, 3, 512);
        Assert.Equal(QuantPanelGemm.PreparedIntsQ8_K, QuantPanelGemm.PreparedIntsPerBlock(GgmlType.Q4_K, wide: false));
        for (int m = 0; m < 3; m++)
        {
            for (int b = 0; b < c.Nb; b++)
            {
                // Q8_K block: float32 d, 256 int8 quants, 16 int16 sums of 16 (not read here).
                var block = c.Xq.AsSpan((m * c.XRowBytes) + (b * 292), 292);
                for (int j = 0; j < 8; j++)
                {
                    int sum = 0;
                    for (int i = 32 * j; i < (32 * j) + 32; i++) sum += (sbyte)block[4 + i];
                    int packed = c.Prepared[(((m * c.Nb) + b) * QuantPanelGemm.PreparedIntsQ8_K) + (j / 2)];
                    Assert.Equal(sum, (short)(packed >> (16 * (j % 2))));
                }
            }
        }
    }

    [Fact]
    public void Q4_K_wide_prepared_data_is_the_sums_then_the_quants_of_each_sub_block_pair_in_alternating_fours()
    {
        if (!Runs(GgmlType.Q4_K, wide: true)) return; // AVX-512 BW only
        const int ARows = 3, K = 768;
        var c = Make(GgmlType.Q4_K, 6, 1, ARows, K);
        int per = QuantPanelGemm.PreparedIntsPerBlock(GgmlType.Q4_K, wide: true);
        Assert.Equal(QuantPanelGemm.PreparedIntsQ8_KWide, per);
        Assert.Equal(QuantPanelGemm.PreparedIntsQ8_K + 64, per);
        var prepared = Prepared(GgmlType.Q4_K, c.Xq, c.XRowBytes, ARows, c.Nb, wide: true);
        for (int m = 0; m < ARows; m++)
        {
            for (int b = 0; b < c.Nb; b++)
            {
                var block = c.Xq.AsSpan((m * c.XRowBytes) + (b * 292), 292);
                var ints = prepared.AsSpan(((m * c.Nb) + b) * per, per);
                for (int j = 0; j < 8; j++)
                {
                    int sum = 0;
                    for (int i = 32 * j; i < (32 * j) + 32; i++) sum += (sbyte)block[4 + i];
                    Assert.Equal(sum, (short)(ints[j / 2] >> (16 * (j % 2))));
                }

                // Byte 8t + i (i < 4) of pair p: quant 64p + 4t + i (sub-block 2p); byte 8t + 4 + i: quant 64p + 32 + 4t + i.
                var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(ints[QuantPanelGemm.PreparedIntsQ8_K..]);
                for (int pair = 0; pair < 4; pair++)
                {
                    for (int t = 0; t < 8; t++)
                    {
                        for (int i = 0; i < 4; i++)
                        {
                            Assert.Equal(block[4 + (64 * pair) + (4 * t) + i], bytes[(64 * pair) + (8 * t) + i]);
                            Assert.Equal(block[4 + (64 * pair) + 32 + (4 * t) + i], bytes[(64 * pair) + (8 * t) + 4 + i]);
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_tile_shape_is_bit_identical_to_the_scalar_block_sums(GgmlType type, bool wide)
    {
        if (!Runs(type, wide)) return; // AVX2 and FMA (wide: AVX-512 BW) only
        var shapes = GgmlTypeTraits.BlockSize(type) == 256
            ? new[] { (8, 4, 256), (13, 9, 512), (5, 3, 5632), (17, 6, 768), (1, 1, 256), (24, 12, 256) }
            : new[] { (8, 4, 32), (13, 9, 96), (5, 3, 2144), (17, 6, 544), (1, 1, 64), (24, 12, 256) };
        foreach (var (wRows, aRows, k) in shapes)
        {
            var c = Make(type, wRows + (7 * aRows) + k + (int)type, wRows, aRows, k);
            var y = Product(type, c, wRows, aRows, wide);
            AssertMatchesOracle(type, c, y, wRows, aRows, $"{type} {wRows}x{aRows} k={k}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Results_match_the_single_row_dot_products_up_to_float_ordering(GgmlType type, bool wide)
    {
        if (!Runs(type, wide)) return;
        const int WRows = 11, ARows = 7, K = 1024;
        var c = Make(type, 77 + (int)type, WRows, ARows, K);
        var y = Product(type, c, WRows, ARows, wide);
        var wd = new float[K];
        var ad = new float[K];
        var format = QuantActivations.VecDotType(type);
        fixed (byte* w = c.W)
        fixed (byte* a = c.Xq)
        {
            for (int m = 0; m < ARows; m++)
            {
                GgmlTypeTraits.Dequantize(format, c.Xq.AsSpan(m * c.XRowBytes, c.XRowBytes), ad);
                for (int j = 0; j < WRows; j++)
                {
                    GgmlTypeTraits.Dequantize(type, c.W.AsSpan(j * c.RowBytes, c.RowBytes), wd);
                    double magnitude = 0;
                    for (int i = 0; i < K; i++) magnitude += Math.Abs((double)wd[i] * ad[i]);

                    // The same exact int32 block products, summed with float32 additions in another order: each of the
                    // ≤ 2·nb + 8 additions rounds by at most 2^-24 of the running magnitude.
                    float single = QuantRowDot.Dot(type, w + (j * c.RowBytes), a + (m * c.XRowBytes), c.Nb);
                    Assert.True(
                        Math.Abs(single - y[(m * WRows) + j]) <= 2 * ((2 * c.Nb) + 8) * magnitude / (1 << 24),
                        $"{type} y[{m}, {j}]: panel {y[(m * WRows) + j]} vs single row {single}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Results_are_within_the_activation_rounding_bound_of_the_dequantized_dot(GgmlType type, bool wide)
    {
        if (!Runs(type, wide)) return;
        const int WRows = 9, ARows = 5;
        int block = GgmlTypeTraits.BlockSize(type) == 256 ? 256 : 32, K = block == 256 ? 512 : 288;
        var c = Make(type, 40 + (int)type, WRows, ARows, K);
        var y = Product(type, c, WRows, ARows, wide);
        var wd = new float[WRows * K];
        GgmlTypeTraits.Dequantize(type, c.W, wd);
        for (int m = 0; m < ARows; m++)
        {
            for (int j = 0; j < WRows; j++)
            {
                double exact = 0, bound = 0, magnitude = 0;
                for (int b = 0; b < K; b += block)
                {
                    double amax = 0;
                    for (int i = b; i < b + block; i++) amax = Math.Max(amax, Math.Abs(c.X[(m * K) + i]));

                    // Half a step of the 8-bit grid plus the f16 rounding of a Q8_0 block scale (2^-11 relative, times 127 steps).
                    double step = (amax / 254 * 1.001) + (block == 32 ? amax / 2048 : 0);
                    for (int i = b; i < b + block; i++)
                    {
                        double p = (double)wd[(j * K) + i] * c.X[(m * K) + i];
                        exact += p;
                        magnitude += Math.Abs(p);
                        bound += Math.Abs(wd[(j * K) + i]) * step;
                    }
                }

                Assert.True(Math.Abs(y[(m * WRows) + j] - exact) <= bound + (1e-6 * magnitude) + 1e-9, $"{type} y[{m}, {j}] = {y[(m * WRows) + j]} vs {exact} (bound {bound})");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Extreme_values_do_not_overflow_the_sixteen_bit_sums(GgmlType type, bool wide)
    {
        if (!Runs(type, wide)) return;

        // Every quant at its largest magnitude (Q4_0, Q4_K: nibble 15; Q6_K: 63; Q8_0: −128 and −127) or 0, against
        // activations of ±1 quantized to ±127: the largest partial sums the 16-bit stages see.
        const int WRows = 8, ARows = 4, K = 512;
        int rowBytes = (int)GgmlTypeTraits.ByteCount(type, K), blockBytes = GgmlTypeTraits.BlockBytes(type);
        var (start, length) = type switch
        {
            GgmlType.Q4_0 => (2, 16),
            GgmlType.Q8_0 => (2, 32),
            GgmlType.Q4_K => (16, 128),
            _ => (0, 192),
        };
        foreach (byte fill in new byte[] { 0xFF, 0x00, 0x80, 0x81 })
        {
            var w = QuantRowDotTests.RandomBlocks(new Random(fill), type, WRows * K);
            for (int b = 0; b < w.Length; b += blockBytes) w.AsSpan(b + start, length).Fill(fill);
            var x = new float[ARows * K];
            for (int i = 0; i < x.Length; i++) x[i] = i / K % 2 == 0 ? 1 : -1;
            var c = Quantize(type, w, rowBytes, x, ARows, K);
            var y = Product(type, c, WRows, ARows, wide);
            AssertMatchesOracle(type, c, y, WRows, ARows, $"{type} fill {fill:X2}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Q8_0_products_are_exact_for_extreme_weight_and_activation_bytes(bool wide)
    {
        if (!Runs(GgmlType.Q8_0, wide)) return;

        // Quants set byte by byte rather than through the quantizer: weights over the whole int8 range (−128 included,
        // which the quantizer never writes but a file may hold), activations over −127..127 (what Q8_0 activation
        // quantization writes: round(x·127/amax)), every pairing of the extremes, zero and random bytes, so that a
        // saturating 16-bit product, a sign wrap-around or a wrong offset would show.
        const int WRows = 8, ARows = 4, Nb = 8, BlockBytes = 34;
        byte[][] weights = [Fill(0x80), Fill(0x7F), Fill(0x81), Fill(0x00), Alternate(0x80, 0x7F, 2), Alternate(0x7F, 0x80, 3)];
        byte[][] activations = [Fill(0x81), Fill(0x7F), Fill(0x00), Alternate(0x81, 0x7F, 2), Alternate(0x7F, 0x81, 3), Alternate(0x7F, 0x00, 4)];
        var rng = new Random(12);
        var w = new byte[WRows * Nb * BlockBytes];
        var xq = new byte[ARows * Nb * BlockBytes];
        for (int round = 0; round < 7; round++)
        {
            Write(w, rng, weights, round, allowMinus128: true);
            Write(xq, rng, activations, 3 * round, allowMinus128: false);
            var c = FromQuantized(GgmlType.Q8_0, w, Nb * BlockBytes, [], xq, Nb * BlockBytes, ARows, 32 * Nb);
            var y = Product(GgmlType.Q8_0, c, WRows, ARows, wide);
            AssertMatchesOracle(GgmlType.Q8_0, c, y, WRows, ARows, $"round {round}");
        }

        static byte[] Fill(byte value) => Enumerable.Repeat(value, 32).ToArray();

        static byte[] Alternate(byte first, byte second, int period) => [.. Enumerable.Range(0, 32).Select(i => i % period == 0 ? first : second)];

        // Every block: a scale of 2^(−4..3) and quants from a pattern or random bytes, the choice moving with the block and the round.
        static void Write(byte[] blocks, Random rng, byte[][] patterns, int shift, bool allowMinus128)
        {
            for (int b = 0, i = 0; b < blocks.Length; b += BlockBytes, i++)
            {
                BinaryPrimitives.WriteHalfLittleEndian(blocks.AsSpan(b, 2), (Half)Math.ScaleB(1, rng.Next(-4, 4)));
                var quants = blocks.AsSpan(b + 2, 32);
                int p = (i + shift) % (patterns.Length + 1);
                if (p < patterns.Length)
                {
                    patterns[p].CopyTo(quants);
                    continue;
                }

                rng.NextBytes(quants);
                if (!allowMinus128) quants.Replace((byte)0x80, (byte)0x81);
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, false)]
    [InlineData(GgmlType.Q4_K, true)]
    [InlineData(GgmlType.Q6_K, false)]
    [InlineData(GgmlType.Q6_K, true)]
    public void K_quant_products_are_exact_for_extreme_weight_and_activation_bytes(GgmlType type, bool wide)
    {
        if (!Runs(type, wide)) return;

        // Quants and scales set byte by byte: the largest weights (Q4_K nibble 15 with 6-bit scales and minimums of 63;
        // Q6_K value 63 or 0, i.e. ±32 after the offset, with int8 scales of 127, −128 and −127) against Q8_K activation
        // bytes of −128, 127, 0 and their mixtures (their 16-value sums recomputed), so that a 16-bit sum past its range,
        // a scale spread to the wrong lanes or a wrong fold of the 64-byte products would show.
        const int WRows = 8, ARows = 4, Nb = 3, ABlockBytes = 292;
        int blockBytes = GgmlTypeTraits.BlockBytes(type);
        byte[][] activations = [Fill(0x80, 256), Fill(0x7F, 256), Fill(0x00, 256), Alternate(0x80, 0x7F, 2, 256), Alternate(0x7F, 0x80, 3, 256)];
        var rng = new Random(34 + (int)type);
        for (int round = 0; round < 6; round++)
        {
            var w = QuantRowDotTests.RandomBlocks(rng, type, WRows * Nb * 256);
            for (int b = 0, i = 0; b < w.Length; b += blockBytes, i++) WriteWeights(w.AsSpan(b, blockBytes), type, (i + round) % 4, rng);
            var xq = new byte[ARows * Nb * ABlockBytes];
            for (int b = 0, i = 0; b < xq.Length; b += ABlockBytes, i++)
            {
                var block = xq.AsSpan(b, ABlockBytes);
                BinaryPrimitives.WriteSingleLittleEndian(block, MathF.ScaleB(1, rng.Next(-6, 2)));
                var quants = block.Slice(4, 256);
                int p = (i + round) % (activations.Length + 1);
                if (p < activations.Length) activations[p].CopyTo(quants);
                else rng.NextBytes(quants);
                for (int g = 0; g < 16; g++)
                {
                    int sum = 0;
                    for (int v = 0; v < 16; v++) sum += (sbyte)quants[(16 * g) + v];
                    BinaryPrimitives.WriteInt16LittleEndian(block.Slice(260 + (2 * g), 2), (short)sum);
                }
            }

            var c = FromQuantized(type, w, Nb * blockBytes, [], xq, Nb * ABlockBytes, ARows, 256 * Nb);
            var y = Product(type, c, WRows, ARows, wide);
            AssertMatchesOracle(type, c, y, WRows, ARows, $"{type} wide={wide} round {round}");
        }

        static byte[] Fill(byte value, int count) => Enumerable.Repeat(value, count).ToArray();

        static byte[] Alternate(byte first, byte second, int period, int count) => [.. Enumerable.Range(0, count).Select(i => i % period == 0 ? first : second)];

        // Scales of 2^(−4..3); pattern 3 keeps the random quants and scales.
        static void WriteWeights(Span<byte> block, GgmlType type, int pattern, Random rng)
        {
            if (type == GgmlType.Q4_K)
            {
                BinaryPrimitives.WriteHalfLittleEndian(block, (Half)Math.ScaleB(1, rng.Next(-4, 4)));
                BinaryPrimitives.WriteHalfLittleEndian(block[2..], (Half)Math.ScaleB(1, rng.Next(-4, 4)));
                if (pattern == 3) return;
                block.Slice(4, 12).Fill(0xFF);
                block.Slice(16, 128).Fill(pattern switch { 0 => 0xFF, 1 => 0xF0, _ => 0x0F });
                return;
            }

            BinaryPrimitives.WriteHalfLittleEndian(block[208..], (Half)Math.ScaleB(1, rng.Next(-4, 4)));
            if (pattern == 3) return;
            block[..192].Fill(pattern == 1 ? (byte)0x00 : (byte)0xFF);
            block.Slice(192, 16).Fill(pattern switch { 0 => 0x7F, 1 => 0x80, _ => 0x81 });
        }
    }
}
