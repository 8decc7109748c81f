using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The matrix-vector product of Q4_0 weights with one Q8_0 activation row (decode): 8 weight rows per pass over the
/// activation row, so each activation block, its scale and its nibble offsets are loaded once for 8 weight rows.
/// </summary>
/// <remarks>
/// Per weight row and block: the 16 packed bytes are broadcast to both 128-bit halves of a vector and shifted by 0
/// (low half) and 4 (high half) bits in one variable shift, then masked: the unsigned nibbles in value order. Their
/// exact product with the signed activations is one <c>vpdpbusd</c> (AVX-VNNI) or <c>pmaddubsw</c> + <c>pmaddwd</c>
/// (AVX2) whose accumulator starts at the block's offsets (−8·Σ of the 4 activations each int32 lane covers, prepared
/// once per call by <see cref="Prepare"/>), so the lanes sum to Σ (nibble − 8)·a exactly. Each row keeps its own float32
/// accumulator (8 independent chains, no horizontal sums in the loop), scaled per block by d_a (one broadcast shared
/// by the 8 rows) and d_w (a broadcast load from the f16 table). The results differ from <see cref="QuantRowDot.Q4_0"/>
/// only in the order of the float32 additions.
/// </remarks>
internal static unsafe class QuantGemv
{
    /// <summary>Weight rows per pass.</summary>
    public const int Rows = 8;

    /// <summary>Ints of prepared data per activation block: 8 lanes of nibble offsets and the scale (as float bits), padded to 16.</summary>
    public const int PreparedInts = 16;

    /// <summary>True for the weight types with a GEMV kernel here, on machines where it runs.</summary>
    public static bool Supports(GgmlType type) => type == GgmlType.Q4_0 && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// For each of the <paramref name="nb"/> Q8_0 blocks of <paramref name="a"/>: 8 int32 lanes, lane l = −8·Σ a[4l..4l+3]
    /// (what the nibbles' offset of 8 subtracts from the lane), then the block's scale d_a as float32 bits;
    /// <see cref="PreparedInts"/> ints per block.
    /// </summary>
    public static void Prepare(byte* a, int nb, int* prepared)
    {
        float* ht = QuantRowDot.HalfTablePointer;
        for (int b = 0; b < nb; b++, a += 34, prepared += PreparedInts)
        {
            sbyte* q = (sbyte*)(a + 2);
            for (int l = 0; l < 8; l++)
            {
                prepared[l] = -8 * (q[4 * l] + q[(4 * l) + 1] + q[(4 * l) + 2] + q[(4 * l) + 3]);
            }

            ((float*)prepared)[8] = QuantRowDot.Half(ht, a);
        }
    }

    /// <summary>
    /// y[j] = dot(weight row j, a) for j in [0, <paramref name="count"/>): Q4_0 rows at <paramref name="w"/>,
    /// <paramref name="rowBytes"/> apart; <paramref name="a"/> one Q8_0 activation row of <paramref name="nb"/> blocks and
    /// <paramref name="prepared"/> its <see cref="Prepare"/> data.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4_0(byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, int count)
    {
        int j = 0;
        for (; j + Rows <= count; j += Rows) Q4_0x8(w + ((long)j * rowBytes), rowBytes, a, prepared, nb, y + j, j + (2 * Rows) <= count);
        for (; j < count; j++) y[j] = Q4_0x1(w + ((long)j * rowBytes), a, prepared, nb);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> acc, byte* block, Vector256<sbyte> a, Vector256<int> offsets, Vector256<float> da, float* ht)
    {
        var packed = Avx2.BroadcastVector128ToVector256(block + 2).AsUInt64();
        var u = Avx2.ShiftRightLogicalVariable(packed, Vector256.Create(0UL, 0UL, 4UL, 4UL)).AsByte() & Vector256.Create((byte)0x0F);
        Vector256<int> s;
        if (AvxVnni.IsSupported)
        {
            s = AvxVnni.MultiplyWideningAndAdd(offsets, u, a);
        }
        else
        {
            s = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, a), Vector256<short>.One) + offsets;
        }

        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(s) * da, Vector256.Create(QuantRowDot.Half(ht, block)), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0x8(byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, bool prefetch)
    {
        // The next 8 rows (contiguous with these when rowBytes is the row's size) are prefetched as these are read:
        // 8·18 bytes per block.
        byte* next = w + (Rows * (long)rowBytes);
        int ahead = prefetch && Sse.IsSupported ? nb : 0;
        float* ht = QuantRowDot.HalfTablePointer;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        byte* w0 = w;
        long r = rowBytes;
        for (int b = 0; b < nb; b++, w0 += 18, a += 34, prepared += PreparedInts)
        {
            if (b < ahead)
            {
                byte* p = next + (b * Rows * 18);
                Sse.Prefetch0(p);
                Sse.Prefetch0(p + 64);
                Sse.Prefetch0(p + 128);
            }

            var av = Vector256.Load((sbyte*)(a + 2));
            var off = Vector256.Load(prepared);
            var da = Vector256.Create(((float*)prepared)[8]);
            c0 = Step(c0, w0, av, off, da, ht);
            c1 = Step(c1, w0 + r, av, off, da, ht);
            c2 = Step(c2, w0 + (2 * r), av, off, da, ht);
            c3 = Step(c3, w0 + (3 * r), av, off, da, ht);
            c4 = Step(c4, w0 + (4 * r), av, off, da, ht);
            c5 = Step(c5, w0 + (5 * r), av, off, da, ht);
            c6 = Step(c6, w0 + (6 * r), av, off, da, ht);
            c7 = Step(c7, w0 + (7 * r), av, off, da, ht);
        }

        y[0] = Vector256.Sum(c0);
        y[1] = Vector256.Sum(c1);
        y[2] = Vector256.Sum(c2);
        y[3] = Vector256.Sum(c3);
        y[4] = Vector256.Sum(c4);
        y[5] = Vector256.Sum(c5);
        y[6] = Vector256.Sum(c6);
        y[7] = Vector256.Sum(c7);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4_0x1(byte* w, byte* a, int* prepared, int nb)
    {
        float* ht = QuantRowDot.HalfTablePointer;
        var c = Vector256<float>.Zero;
        for (int b = 0; b < nb; b++, w += 18, a += 34, prepared += PreparedInts)
        {
            c = Step(c, w, Vector256.Load((sbyte*)(a + 2)), Vector256.Load(prepared), Vector256.Create(((float*)prepared)[8]), ht);
        }

        return Vector256.Sum(c);
    }
}
