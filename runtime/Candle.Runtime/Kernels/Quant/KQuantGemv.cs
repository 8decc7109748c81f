using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The matrix-vector product of Q4_K, Q5_K or Q6_K weights with one Q8_K activation row (decode): <see cref="Rows"/>
/// weight rows per pass over the activation row, super-block by super-block, so each activation super-block (its scale
/// and its sums of 16) is read once for the pass, and the next rows are prefetched while these are read.
/// </summary>
/// <remarks>
/// <para>
/// Per weight row and super-block the packed scales are decoded once: Q4_K / Q5_K's twelve bytes of 6-bit scales and
/// minimums become eight 16-bit scales and eight 16-bit minimums (bit arithmetic on 32-bit integers, then two widening
/// moves), Q6_K's sixteen signed scales are sign-extended to 16 bits. The unsigned values (Q4_K nibbles, Q5_K nibbles
/// with their fifth bit, Q6_K's 6-bit q6) multiply the signed activations in <c>pmaddubsw</c> (16-bit pair sums, at most
/// 2·63·127 = 16002, so they never saturate), and a <c>pmaddwd</c> by the sub-block's scale, broadcast to the 16-bit lanes
/// by one <c>pshufb</c>, widens them to int32 already scaled (<c>vpdpwssd</c>, which also adds, with AVX-VNNI): no
/// 32-bit multiply and no horizontal sum in the loop. The minimums (Q4_K / Q5_K: Σ min_j·(bsum_2j + bsum_2j+1)) and
/// Q6_K's offset of 32 (32·Σ scale_k·bsum_k) come from the activation's sums of 16 by one more <c>pmaddwd</c>.
/// </para>
/// <para>
/// The int32 sums of a super-block are those of <see cref="QuantRowDot"/>'s single-row dot exactly; each row keeps its
/// own float32 accumulator (the int32 lanes converted and scaled by d_w·d_a, the minimum lanes by −dmin·d_a), so the
/// results differ from the single-row dot only in the order of the float32 additions.
/// </para>
/// </remarks>
internal static unsafe class KQuantGemv
{
    /// <summary>Weight rows per pass.</summary>
    public const int Rows = 8;

    /// <summary>True for the weight types with a GEMV kernel here, on machines where it runs (AVX2 and FMA).</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// y[j] = dot(weight row j, a) for j in [0, <paramref name="count"/>): rows of <paramref name="type"/> (one with
    /// <see cref="Supports"/>) at <paramref name="w"/>, <paramref name="rowBytes"/> apart; <paramref name="a"/> one Q8_K
    /// activation row of <paramref name="nb"/> super-blocks.
    /// </summary>
    public static void Run(GgmlType type, byte* w, int rowBytes, byte* a, int nb, float* y, int count)
    {
        switch (type)
        {
            case GgmlType.Q4_K: Run<Q4KBlock>(w, rowBytes, a, nb, y, count); break;
            case GgmlType.Q5_K: Run<Q5KBlock>(w, rowBytes, a, nb, y, count); break;
            case GgmlType.Q6_K: Run<Q6KBlock>(w, rowBytes, a, nb, y, count); break;
            default: throw new NotSupportedException($"no k-quant GEMV for {GgmlTypeTraits.Name(type)}");
        }
    }

    private static void Run<T>(byte* w, int rowBytes, byte* a, int nb, float* y, int count)
        where T : struct, IBlock
    {
        Vector256<float>* acc = stackalloc Vector256<float>[Rows];
        for (int j = 0; j < count; j += Rows)
        {
            int rows = Math.Min(Rows, count - j);
            Pass<T>(w + ((long)j * rowBytes), rowBytes, a, nb, y + j, rows, j + Rows + rows <= count, acc);
        }
    }

    /// <summary>One weight type's super-block: its size and its contribution to a row's float32 accumulator.</summary>
    private interface IBlock
    {
        static abstract int Bytes { get; }

        /// <summary>What the rows of a pass share of activation super-block <paramref name="a"/>: its sums of 16 as the type uses them.</summary>
        static abstract Vector256<short> Shared(byte* a);

        /// <summary><paramref name="acc"/> plus the lanes of the weight super-block <paramref name="w"/> times activation super-block <paramref name="a"/> (scale <paramref name="da"/>).</summary>
        static abstract Vector256<float> Step(byte* w, byte* a, float da, Vector256<short> shared, float* ht, Vector256<float> acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass<T>(byte* w, long rowBytes, byte* a, int nb, float* y, int rows, bool prefetch, Vector256<float>* acc)
        where T : struct, IBlock
    {
        float* ht = QuantRowDot.HalfTablePointer;
        for (int r = 0; r < rows; r++) acc[r] = Vector256<float>.Zero;

        // The next pass's rows (contiguous with these when rowBytes is the row's size) are prefetched as these are read:
        // one super-block's bytes per row and super-block step.
        int step = T.Bytes;
        byte* next = prefetch && Sse.IsSupported ? w + (rows * rowBytes) : null;
        for (int b = 0; b < nb; b++, a += 292)
        {
            float da = Unsafe.ReadUnaligned<float>(a);
            var shared = T.Shared(a);
            byte* wb = w + ((long)b * step);
            for (int r = 0; r < rows; r++, wb += rowBytes)
            {
                if (next != null)
                {
                    byte* p = next + ((((long)b * rows) + r) * step);
                    Sse.Prefetch0(p);
                    Sse.Prefetch0(p + 64);
                    Sse.Prefetch0(p + 128);
                    if (step > 192) Sse.Prefetch0(p + 192);
                }

                acc[r] = T.Step(wb, a, da, shared, ht, acc[r]);
            }
        }

        for (int r = 0; r < rows; r++) y[r] = Vector256.Sum(acc[r]);
    }

    /// <summary><paramref name="acc"/> + Σ adjacent pairs of <paramref name="p"/>·<paramref name="s"/> in int32 (exact; <c>vpdpwssd</c> with AVX-VNNI).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Madd(Vector256<int> acc, Vector256<short> p, Vector256<short> s)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(acc, p, s);
        return acc + Avx2.MultiplyAddAdjacent(p, s);
    }

    /// <summary>The shuffle that broadcasts 16-bit lane <paramref name="k"/> (0..7) of each 128-bit half to all 8 lanes of that half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Broadcast16(int k) => Vector256.Create((short)((((2 * k) + 1) << 8) | (2 * k))).AsByte();

    /// <summary>
    /// The eight 6-bit scales and minimums of a Q4_K / Q5_K super-block (12 bytes at <paramref name="p"/>) as 16-bit lanes:
    /// ggml's <c>get_scale_min_k4</c> for j = 0..7, in its x86 form on 32-bit integers (scales 0..3 and minimums 0..3 are
    /// bytes 0..3 and 4..7 &amp; 63; scales 4..7 are bytes 8..11 &amp; 15 with the top 2 bits of bytes 0..3 above, minimums
    /// 4..7 are bytes 8..11 &gt;&gt; 4 with the top 2 bits of bytes 4..7 above). On the integer units, this leaves the
    /// vector units (the bottleneck of a product whose weights are in cache) two moves and two widenings per super-block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<short> Scales, Vector128<short> Mins) ScalesAndMins(byte* p)
    {
        const uint Low6 = 0x3f3f3f3f, Low4 = 0x0f0f0f0f, Low2 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(p), u1 = Unsafe.ReadUnaligned<uint>(p + 4), u2 = Unsafe.ReadUnaligned<uint>(p + 8);
        ulong sc = (u0 & Low6) | ((ulong)((u2 & Low4) | (((u0 >> 6) & Low2) << 4)) << 32);
        ulong mn = (u1 & Low6) | ((ulong)(((u2 >> 4) & Low4) | (((u1 >> 6) & Low2) << 4)) << 32);
        return (Sse41.ConvertToVector128Int16(Vector128.CreateScalarUnsafe(sc).AsByte()).AsInt16(),
            Sse41.ConvertToVector128Int16(Vector128.CreateScalarUnsafe(mn).AsByte()).AsInt16());
    }

    /// <summary>The pair sums bsum_2j + bsum_2j+1 (j = 0..7) of a Q8_K super-block, in the low 128 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> PairSums(byte* a)
    {
        var s = Vector256.Load((short*)(a + 260));
        return Ssse3.HorizontalAdd(s.GetLower(), s.GetUpper()).ToVector256Unsafe();
    }

    /// <summary>
    /// The float32 lanes of a Q4_K / Q5_K super-block: d·d_a·Σ (scale·(q·a)) lanes − dmin·d_a·Σ (min·pair sum) lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(byte* w, float da, Vector256<int> sumi, Vector128<short> mins, Vector256<short> pairSums, float* ht, Vector256<float> acc)
    {
        var m = Sse2.MultiplyAddAdjacent(mins, pairSums.GetLower());
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(QuantRowDot.Half(ht, w) * da), acc);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(m.ToVector256()), Vector256.Create(-(QuantRowDot.Half(ht, w + 2) * da)), acc);
    }

    /// <summary>Sub-blocks 2j and 2j + 1 (64 values: the low and high halves of <paramref name="lo"/> and <paramref name="hi"/>'s bytes) into <paramref name="sumi"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Pair(Vector256<int> sumi, Vector256<byte> lo, Vector256<byte> hi, byte* a, int j, Vector256<byte> scales)
    {
        var pl = Avx2.MultiplyAddAdjacent(lo, Vector256.Load((sbyte*)(a + 4 + (64 * j))));
        var ph = Avx2.MultiplyAddAdjacent(hi, Vector256.Load((sbyte*)(a + 36 + (64 * j))));
        sumi = Madd(sumi, pl, Avx2.Shuffle(scales, Broadcast16(2 * j)).AsInt16());
        return Madd(sumi, ph, Avx2.Shuffle(scales, Broadcast16((2 * j) + 1)).AsInt16());
    }

    private readonly struct Q4KBlock : IBlock
    {
        public static int Bytes => 144;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(byte* a) => PairSums(a);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Step(byte* w, byte* a, float da, Vector256<short> shared, float* ht, Vector256<float> acc)
        {
            var (scales, mins) = ScalesAndMins(w + 4);
            var sc = Vector256.Create(scales, scales).AsByte();
            var m4 = Vector256.Create((byte)0x0F);
            var q0 = Vector256.Load(w + 16);
            var q1 = Vector256.Load(w + 48);
            var q2 = Vector256.Load(w + 80);
            var q3 = Vector256.Load(w + 112);
            var sumi = Pair(Vector256<int>.Zero, q0 & m4, Avx2.ShiftRightLogical(q0.AsUInt16(), 4).AsByte() & m4, a, 0, sc);
            sumi = Pair(sumi, q1 & m4, Avx2.ShiftRightLogical(q1.AsUInt16(), 4).AsByte() & m4, a, 1, sc);
            sumi = Pair(sumi, q2 & m4, Avx2.ShiftRightLogical(q2.AsUInt16(), 4).AsByte() & m4, a, 2, sc);
            sumi = Pair(sumi, q3 & m4, Avx2.ShiftRightLogical(q3.AsUInt16(), 4).AsByte() & m4, a, 3, sc);
            return Finish(w, da, sumi, mins, shared, ht, acc);
        }
    }

    private readonly struct Q5KBlock : IBlock
    {
        public static int Bytes => 176;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(byte* a) => PairSums(a);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Step(byte* w, byte* a, float da, Vector256<short> shared, float* ht, Vector256<float> acc)
        {
            var (scales, mins) = ScalesAndMins(w + 4);
            var sc = Vector256.Create(scales, scales).AsByte();
            var sumi = Vector256<int>.Zero;

            // Bit 2j of qh[l] (value l of the low nibbles of the j-th 64) and bit 2j + 1 (the high nibbles) move to bit 4:
            // qh shifted right by 2j in 16-bit lanes, then left by 4 or 3 and masked (each byte's bit 4 comes from its own byte).
            var qh = Vector256.Load(w + 16).AsUInt16();
            sumi = Q5Pair(sumi, Vector256.Load(w + 48), qh, a, 0, sc);
            sumi = Q5Pair(sumi, Vector256.Load(w + 80), Avx2.ShiftRightLogical(qh, 2), a, 1, sc);
            sumi = Q5Pair(sumi, Vector256.Load(w + 112), Avx2.ShiftRightLogical(qh, 4), a, 2, sc);
            sumi = Q5Pair(sumi, Vector256.Load(w + 144), Avx2.ShiftRightLogical(qh, 6), a, 3, sc);
            return Finish(w, da, sumi, mins, shared, ht, acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Q5Pair(Vector256<int> sumi, Vector256<byte> q, Vector256<ushort> qh, byte* a, int j, Vector256<byte> sc)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var bit4 = Vector256.Create((byte)0x10);
            var lo = (q & m4) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & bit4);
            var hi = (Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftLeftLogical(qh, 3).AsByte() & bit4);
            return Pair(sumi, lo, hi, a, j, sc);
        }
    }

    private readonly struct Q6KBlock : IBlock
    {
        public static int Bytes => 210;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Shared(byte* a) => Vector256.Load((short*)(a + 260));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Step(byte* w, byte* a, float da, Vector256<short> shared, float* ht, Vector256<float> acc)
        {
            // The 16 scales as 16-bit lanes; Σ_k scale_k·bsum_k (in 8 lanes) is what the offset of 32 subtracts, times 32.
            var sc = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(w + 192)));
            var sumi = Vector256<int>.Zero - Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(sc, shared), 5);
            sumi = Half128(sumi, w, w + 128, a + 4, Avx2.Permute2x128(sc, sc, 0x00).AsByte());
            sumi = Half128(sumi, w + 64, w + 160, a + 132, Avx2.Permute2x128(sc, sc, 0x11).AsByte());
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(QuantRowDot.Half(ht, w + 208) * da), acc);
        }

        /// <summary>
        /// 128 values: their low 4 bits at <paramref name="ql"/> (64 bytes), their high 2 bits at <paramref name="qh"/> (32
        /// bytes), their activations at <paramref name="q8"/>, and the half's 8 scales (<paramref name="scales"/>: 16-bit
        /// lanes, in both 128-bit halves). Value l + 32i has the bits 2i, 2i + 1 of qh[l], moved to bits 4, 5 by 16-bit
        /// shifts and a mask (each byte's bits 4 and 5 come from its own byte).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Half128(Vector256<int> sumi, byte* ql, byte* qh, byte* q8, Vector256<byte> scales)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m30 = Vector256.Create((byte)0x30);
            var l0 = Vector256.Load(ql);
            var l1 = Vector256.Load(ql + 32);
            var h = Vector256.Load(qh);
            var v0 = (l0 & m4) | (Avx2.ShiftLeftLogical(h.AsUInt16(), 4).AsByte() & m30);
            var v1 = (l1 & m4) | (Avx2.ShiftLeftLogical(h.AsUInt16(), 2).AsByte() & m30);
            var v2 = (Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & m4) | (h & m30);
            var v3 = (Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(h.AsUInt16(), 2).AsByte() & m30);

            // Values 32i..32i + 15 have scale 2i, values 32i + 16..32i + 31 scale 2i + 1: the two 128-bit halves of the pair sums.
            sumi = Madd(sumi, Avx2.MultiplyAddAdjacent(v0, Vector256.Load((sbyte*)q8)), Avx2.Shuffle(scales, ScalePair(0)).AsInt16());
            sumi = Madd(sumi, Avx2.MultiplyAddAdjacent(v1, Vector256.Load((sbyte*)(q8 + 32))), Avx2.Shuffle(scales, ScalePair(1)).AsInt16());
            sumi = Madd(sumi, Avx2.MultiplyAddAdjacent(v2, Vector256.Load((sbyte*)(q8 + 64))), Avx2.Shuffle(scales, ScalePair(2)).AsInt16());
            return Madd(sumi, Avx2.MultiplyAddAdjacent(v3, Vector256.Load((sbyte*)(q8 + 96))), Avx2.Shuffle(scales, ScalePair(3)).AsInt16());
        }

        /// <summary>The shuffle that broadcasts 16-bit lane 2i to the low 128-bit half and lane 2i + 1 to the high half.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<byte> ScalePair(int i) => Vector256.Create(
            Vector128.Create((short)((((4 * i) + 1) << 8) | (4 * i))),
            Vector128.Create((short)((((4 * i) + 3) << 8) | ((4 * i) + 2)))).AsByte();
    }
}
