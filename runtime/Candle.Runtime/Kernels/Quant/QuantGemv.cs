using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The matrix-vector product of Q4_0 or Q8_0 weights with one Q8_0 activation row (decode): 8 weight rows per pass over
/// the activation row, so each activation block, its scale and its nibble offsets are loaded once for 8 weight rows, and
/// the next 8 rows are prefetched while these are read (on the shared machines measured, the prefetch more than
/// doubled the bytes per second of a product whose weights come from memory: <c>quant-gemv</c>).
/// </summary>
/// <remarks>
/// Per weight row and block: the 16 packed bytes are broadcast to both 128-bit halves of a vector and shifted by 0
/// (low half) and 4 (high half) bits in one variable shift, then masked: the unsigned nibbles in value order. Their
/// exact product with the signed activations is one <c>vpdpbusd</c> (AVX-VNNI) or <c>pmaddubsw</c> + <c>pmaddwd</c>
/// (AVX2) whose accumulator starts at the block's offsets (−8·Σ of the 4 activations each int32 lane covers, prepared
/// once per call by <see cref="Prepare"/>), so the lanes sum to Σ (nibble − 8)·a exactly. Each row keeps its own float32
/// accumulator (8 independent chains, no horizontal sums in the loop), scaled per block by d_a (one broadcast shared
/// by the 8 rows) and d_w (a broadcast load from the f16 table). The results differ from <see cref="QuantRowDot.Q4_0"/>
/// only in the order of the float32 additions. Q8_0 rows multiply |w| with sign(a, w) as <see cref="QuantRowDot.Q8_0"/>.
/// </remarks>
internal static unsafe class QuantGemv
{
    /// <summary>Weight rows per pass.</summary>
    public const int Rows = 8;

    /// <summary>Ints of prepared data per activation block: 8 lanes of nibble offsets and the scale (as float bits), padded to 16.</summary>
    public const int PreparedInts = 16;

    /// <summary>True for the weight types with a GEMV kernel here, on machines where it runs.</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q8_0 && Avx2.IsSupported && Fma.IsSupported;

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
    public static void Q4_0(byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, int count) => Run<Q4_0Block>(w, rowBytes, a, prepared, nb, y, count);

    /// <summary>As <see cref="Q4_0"/> for Q8_0 weight rows (the prepared offsets are not read, only the scales).</summary>
    public static void Q8_0(byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, int count) => Run<Q8_0Block>(w, rowBytes, a, prepared, nb, y, count);

    /// <summary>As <see cref="Q4_0"/> for a weight type with a GEMV here (<see cref="Supports"/>).</summary>
    public static void Run(GgmlType type, byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, int count)
    {
        if (type == GgmlType.Q4_0) Q4_0(w, rowBytes, a, prepared, nb, y, count);
        else Q8_0(w, rowBytes, a, prepared, nb, y, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<T>(byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, int count)
        where T : struct, IBlock
    {
        int j = 0;
        for (; j + Rows <= count; j += Rows) X8<T>(w + ((long)j * rowBytes), rowBytes, a, prepared, nb, y + j, j + (2 * Rows) <= count);
        for (; j < count; j++) y[j] = X1<T>(w + ((long)j * rowBytes), a, prepared, nb);
    }

    /// <summary>One weight type's block: its size and the exact int32 lanes of its product with 32 activations.</summary>
    private interface IBlock
    {
        static abstract int Bytes { get; }

        /// <summary>8 int32 lanes summing to Σ value·a over the block (<paramref name="offsets"/>: the prepared lanes, for types that use them).</summary>
        static abstract Vector256<int> Dot(byte* block, Vector256<sbyte> a, Vector256<int> offsets);
    }

    private readonly struct Q4_0Block : IBlock
    {
        public static int Bytes => 18;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(byte* block, Vector256<sbyte> a, Vector256<int> offsets)
        {
            var packed = Avx2.BroadcastVector128ToVector256(block + 2).AsUInt64();
            var u = Avx2.ShiftRightLogicalVariable(packed, Vector256.Create(0UL, 0UL, 4UL, 4UL)).AsByte() & Vector256.Create((byte)0x0F);
            if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(offsets, u, a);
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, a), Vector256<short>.One) + offsets;
        }
    }

    private readonly struct Q8_0Block : IBlock
    {
        public static int Bytes => 34;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(byte* block, Vector256<sbyte> a, Vector256<int> offsets)
        {
            var x = Vector256.Load((sbyte*)(block + 2));
            return QuantRowDot.DotU8S8(Vector256<int>.Zero, Avx2.Abs(x), Avx2.Sign(a, x));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step<T>(Vector256<float> acc, byte* block, Vector256<sbyte> a, Vector256<int> offsets, Vector256<float> da, float* ht)
        where T : struct, IBlock
        => Fma.MultiplyAdd(Avx.ConvertToVector256Single(T.Dot(block, a, offsets)) * da, Vector256.Create(QuantRowDot.Half(ht, block)), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void X8<T>(byte* w, int rowBytes, byte* a, int* prepared, int nb, float* y, bool prefetch)
        where T : struct, IBlock
    {
        // The next 8 rows (contiguous with these when rowBytes is the row's size) are prefetched as these are read:
        // 8 blocks' bytes per block step.
        byte* next = w + (Rows * (long)rowBytes);
        int ahead = prefetch && Sse.IsSupported ? nb : 0;
        float* ht = QuantRowDot.HalfTablePointer;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        byte* w0 = w;
        long r = rowBytes;
        int step = T.Bytes;
        for (int b = 0; b < nb; b++, w0 += step, a += 34, prepared += PreparedInts)
        {
            if (b < ahead)
            {
                byte* p = next + (b * Rows * step);
                Sse.Prefetch0(p);
                Sse.Prefetch0(p + 64);
                Sse.Prefetch0(p + 128);
                if (step > 24)
                {
                    Sse.Prefetch0(p + 192);
                    Sse.Prefetch0(p + 256);
                }
            }

            var av = Vector256.Load((sbyte*)(a + 2));
            var off = Vector256.Load(prepared);
            var da = Vector256.Create(((float*)prepared)[8]);
            c0 = Step<T>(c0, w0, av, off, da, ht);
            c1 = Step<T>(c1, w0 + r, av, off, da, ht);
            c2 = Step<T>(c2, w0 + (2 * r), av, off, da, ht);
            c3 = Step<T>(c3, w0 + (3 * r), av, off, da, ht);
            c4 = Step<T>(c4, w0 + (4 * r), av, off, da, ht);
            c5 = Step<T>(c5, w0 + (5 * r), av, off, da, ht);
            c6 = Step<T>(c6, w0 + (6 * r), av, off, da, ht);
            c7 = Step<T>(c7, w0 + (7 * r), av, off, da, ht);
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
    private static float X1<T>(byte* w, byte* a, int* prepared, int nb)
        where T : struct, IBlock
    {
        float* ht = QuantRowDot.HalfTablePointer;
        var c = Vector256<float>.Zero;
        for (int b = 0; b < nb; b++, w += T.Bytes, a += 34, prepared += PreparedInts)
        {
            c = Step<T>(c, w, Vector256.Load((sbyte*)(a + 2)), Vector256.Load(prepared), Vector256.Create(((float*)prepared)[8]), ht);
        }

        return Vector256.Sum(c);
    }
}
