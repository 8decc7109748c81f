using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// Register-tiled integer dot products of Q8_0 and Q4_0 weight rows with Q8_0 activation rows: a tile of 4 activation
/// rows × 4 weight rows (prefill; <see cref="Tile1x4"/>, one activation row, is kept as a reference for the tests and
/// the timing beside <see cref="QuantGemv"/>, which the product uses for the rows left over) walks the blocks once, so each
/// weight block is decoded once for every activation row of the tile and each activation block is loaded once for
/// every weight row.
/// </summary>
/// <remarks>
/// For one activation row and one block, the 4 weight rows' exact int32 block products are summed horizontally into
/// one vector whose lanes j and 4 + j hold row j's sums over the block's first and second 16 values, so the
/// conversion to float32, the scaling by d_w·d_a and the accumulation take one instruction for 4 pairs, and the tile's
/// 4 results are the sum of the accumulator's two halves (no horizontal sums). Q4_0 multiplies the unsigned nibbles
/// with the signed activations (<c>pmaddubsw</c>; each 16-bit lane at most 2·15·127, so the 4 rows' products are
/// summed in 16 bits before widening) and subtracts 8·Σa per half block, precomputed once per call by
/// <see cref="NibbleOffsets"/>; Q8_0 multiplies |w| with sign(a, w). The results differ from
/// <see cref="QuantRowDot.Dot"/>'s (8 float lanes per pair) only in the order of the float32 additions.
/// </remarks>
internal static unsafe class QuantTileDot
{
    /// <summary>Weight rows per tile.</summary>
    public const int Rows = 4;

    /// <summary>Activation rows per prefill tile.</summary>
    public const int ActivationRows = 4;

    /// <summary>True for the weight types with a tiled kernel (whose activations are Q8_0).</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0;

    /// <summary>True when <paramref name="type"/>'s tiled kernel reads the per-block nibble offsets of <see cref="NibbleOffsets"/>.</summary>
    public static bool NeedsOffsets(GgmlType type) => type == GgmlType.Q4_0;

    /// <summary>
    /// For each Q8_0 activation block of <paramref name="a"/> (<paramref name="nb"/> blocks), 8 int32 lanes: 4 × 8·Σ of
    /// the block's first 16 activations, then 4 × 8·Σ of its last 16 (what a Q4_0 product, value = nibble − 8, subtracts).
    /// </summary>
    public static void NibbleOffsets(byte* a, int nb, int* offsets)
    {
        for (int b = 0; b < nb; b++, a += 34, offsets += 8)
        {
            int lo = 0, hi = 0;
            for (int i = 0; i < 16; i++)
            {
                lo += ((sbyte*)a)[2 + i];
                hi += ((sbyte*)a)[18 + i];
            }

            Vector256.Create(8 * lo, 8 * lo, 8 * lo, 8 * lo, 8 * hi, 8 * hi, 8 * hi, 8 * hi).Store(offsets);
        }
    }

    /// <summary>
    /// y[j] = dot(weight row j, a) for the 4 weight rows at <paramref name="w"/> (<paramref name="rowBytes"/> apart) and
    /// the Q8_0 activation row <paramref name="a"/> (<paramref name="offsets"/>: its nibble offsets, Q4_0 only).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile1x4(GgmlType type, byte* w, int rowBytes, byte* a, int* offsets, int nb, float* y)
    {
        if (type == GgmlType.Q4_0) Tile1x4<Q4_0Rows>(w, rowBytes, a, offsets, nb, y);
        else Tile1x4<Q8_0Rows>(w, rowBytes, a, offsets, nb, y);
    }

    /// <summary>
    /// y[m·ldy + j] = dot(weight row j, activation row m) for 4 weight rows (<paramref name="rowBytes"/> apart) and 4
    /// Q8_0 activation rows (<paramref name="aRowBytes"/> apart; their nibble offsets <paramref name="offsetRow"/> ints apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile4x4(GgmlType type, byte* w, int rowBytes, byte* a, int aRowBytes, int* offsets, int offsetRow, int nb, float* y, int ldy)
    {
        if (type == GgmlType.Q4_0) Tile4x4<Q4_0Rows>(w, rowBytes, a, aRowBytes, offsets, offsetRow, nb, y, ldy);
        else Tile4x4<Q8_0Rows>(w, rowBytes, a, aRowBytes, offsets, offsetRow, nb, y, ldy);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scales(float* ht, byte* w0, byte* w1, byte* w2, byte* w3)
    {
        var d = Vector128.Create(QuantRowDot.Half(ht, w0), QuantRowDot.Half(ht, w1), QuantRowDot.Half(ht, w2), QuantRowDot.Half(ht, w3));
        return Vector256.Create(d, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> acc, float* y) => (acc.GetLower() + acc.GetUpper()).Store(y);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4<T>(byte* w, int rowBytes, byte* a, int* offsets, int nb, float* y)
        where T : struct, IWeightRows
    {
        float* ht = QuantRowDot.HalfTablePointer;
        var acc = Vector256<float>.Zero;
        byte* w0 = w, w1 = w + rowBytes, w2 = w + (2 * rowBytes), w3 = w + (3 * rowBytes);
        int step = T.BlockBytes;
        for (int b = 0; b < nb; b++, a += 34, w0 += step, w1 += step, w2 += step, w3 += step)
        {
            T.Decode(w0, out var u0, out var x0);
            T.Decode(w1, out var u1, out var x1);
            T.Decode(w2, out var u2, out var x2);
            T.Decode(w3, out var u3, out var x3);
            var c = T.UsesOffsets ? Vector256.Load(offsets + (8 * b)) : default;
            var s = T.Dot4(u0, x0, u1, x1, u2, x2, u3, x3, Vector256.Load((sbyte*)(a + 2)), c);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Scales(ht, w0, w1, w2, w3) * QuantRowDot.Half(ht, a), acc);
        }

        Store(acc, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4<T>(byte* w, int rowBytes, byte* a, int aRowBytes, int* offsets, int offsetRow, int nb, float* y, int ldy)
        where T : struct, IWeightRows
    {
        float* ht = QuantRowDot.HalfTablePointer;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        byte* w0 = w, w1 = w + rowBytes, w2 = w + (2 * rowBytes), w3 = w + (3 * rowBytes);
        byte* a0 = a, a1 = a + aRowBytes, a2 = a + (2 * aRowBytes), a3 = a + (3 * aRowBytes);
        int* o0 = offsets, o1 = offsets + offsetRow, o2 = offsets + (2 * offsetRow), o3 = offsets + (3 * offsetRow);
        int step = T.BlockBytes;
        for (int b = 0; b < nb; b++, w0 += step, w1 += step, w2 += step, w3 += step, a0 += 34, a1 += 34, a2 += 34, a3 += 34)
        {
            T.Decode(w0, out var u0, out var x0);
            T.Decode(w1, out var u1, out var x1);
            T.Decode(w2, out var u2, out var x2);
            T.Decode(w3, out var u3, out var x3);
            var d = Scales(ht, w0, w1, w2, w3);
            int ob = 8 * b;

            var s = T.Dot4(u0, x0, u1, x1, u2, x2, u3, x3, Vector256.Load((sbyte*)(a0 + 2)), T.UsesOffsets ? Vector256.Load(o0 + ob) : default);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), d * QuantRowDot.Half(ht, a0), acc0);
            s = T.Dot4(u0, x0, u1, x1, u2, x2, u3, x3, Vector256.Load((sbyte*)(a1 + 2)), T.UsesOffsets ? Vector256.Load(o1 + ob) : default);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), d * QuantRowDot.Half(ht, a1), acc1);
            s = T.Dot4(u0, x0, u1, x1, u2, x2, u3, x3, Vector256.Load((sbyte*)(a2 + 2)), T.UsesOffsets ? Vector256.Load(o2 + ob) : default);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), d * QuantRowDot.Half(ht, a2), acc2);
            s = T.Dot4(u0, x0, u1, x1, u2, x2, u3, x3, Vector256.Load((sbyte*)(a3 + 2)), T.UsesOffsets ? Vector256.Load(o3 + ob) : default);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), d * QuantRowDot.Half(ht, a3), acc3);
        }

        Store(acc0, y);
        Store(acc1, y + ldy);
        Store(acc2, y + (2 * ldy));
        Store(acc3, y + (3 * ldy));
    }

    /// <summary>How a weight type's block is read for the tile: its size, its 32 values and the 4 rows' block dot products.</summary>
    private interface IWeightRows
    {
        static abstract int BlockBytes { get; }

        static abstract bool UsesOffsets { get; }

        /// <summary>The unsigned operand <paramref name="u"/> and, where the dot needs it, the signed values <paramref name="x"/>.</summary>
        static abstract void Decode(byte* block, out Vector256<byte> u, out Vector256<sbyte> x);

        /// <summary>
        /// The 4 rows' block products with the activations <paramref name="a"/>: lane j the sum over the first 16 values
        /// of row j, lane 4 + j over the last 16.
        /// </summary>
        static abstract Vector256<int> Dot4(
            Vector256<byte> u0, Vector256<sbyte> x0, Vector256<byte> u1, Vector256<sbyte> x1,
            Vector256<byte> u2, Vector256<sbyte> x2, Vector256<byte> u3, Vector256<sbyte> x3, Vector256<sbyte> a, Vector256<int> offsets);
    }

    private readonly struct Q8_0Rows : IWeightRows
    {
        public static int BlockBytes => 34;

        public static bool UsesOffsets => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, out Vector256<byte> u, out Vector256<sbyte> x)
        {
            x = Vector256.Load((sbyte*)(block + 2));
            u = Avx2.Abs(x);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot4(
            Vector256<byte> u0, Vector256<sbyte> x0, Vector256<byte> u1, Vector256<sbyte> x1,
            Vector256<byte> u2, Vector256<sbyte> x2, Vector256<byte> u3, Vector256<sbyte> x3, Vector256<sbyte> a, Vector256<int> offsets)
        {
            var z = Vector256<int>.Zero;
            var p0 = QuantRowDot.DotU8S8(z, u0, Avx2.Sign(a, x0));
            var p1 = QuantRowDot.DotU8S8(z, u1, Avx2.Sign(a, x1));
            var p2 = QuantRowDot.DotU8S8(z, u2, Avx2.Sign(a, x2));
            var p3 = QuantRowDot.DotU8S8(z, u3, Avx2.Sign(a, x3));
            return Avx2.HorizontalAdd(Avx2.HorizontalAdd(p0, p1), Avx2.HorizontalAdd(p2, p3));
        }
    }

    private readonly struct Q4_0Rows : IWeightRows
    {
        public static int BlockBytes => 18;

        public static bool UsesOffsets => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Decode(byte* block, out Vector256<byte> u, out Vector256<sbyte> x)
        {
            var mask = Vector128.Create((byte)0x0F);
            var packed = Vector128.Load(block + 2);
            u = Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed, 4) & mask);
            x = default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot4(
            Vector256<byte> u0, Vector256<sbyte> x0, Vector256<byte> u1, Vector256<sbyte> x1,
            Vector256<byte> u2, Vector256<sbyte> x2, Vector256<byte> u3, Vector256<sbyte> x3, Vector256<sbyte> a, Vector256<int> offsets)
        {
            if (AvxVnni.IsSupported)
            {
                var z = Vector256<int>.Zero;
                var q0 = AvxVnni.MultiplyWideningAndAdd(z, u0, a);
                var q1 = AvxVnni.MultiplyWideningAndAdd(z, u1, a);
                var q2 = AvxVnni.MultiplyWideningAndAdd(z, u2, a);
                var q3 = AvxVnni.MultiplyWideningAndAdd(z, u3, a);
                return Avx2.HorizontalAdd(Avx2.HorizontalAdd(q0, q1), Avx2.HorizontalAdd(q2, q3)) - offsets;
            }

            // Each 16-bit lane of a nibble product is at most 2·15·127 = 3810, so the two 16-bit horizontal sums stay below 2^15.
            var p0 = Avx2.MultiplyAddAdjacent(u0, a);
            var p1 = Avx2.MultiplyAddAdjacent(u1, a);
            var p2 = Avx2.MultiplyAddAdjacent(u2, a);
            var p3 = Avx2.MultiplyAddAdjacent(u3, a);
            var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p0, p1), Avx2.HorizontalAdd(p2, p3));
            return Avx2.MultiplyAddAdjacent(h, Vector256<short>.One) - offsets;
        }
    }
}
