using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The prefill product of Q4_0 or Q8_0 weights with Q8_0 activation rows, and of Q4_K or Q6_K weights with Q8_K ones,
/// on panels of <see cref="PanelRows"/> weight rows interleaved for the microkernel: <see cref="Pack(GgmlType, byte*, int, int, int, byte*)"/> copies a panel's blocks (read from the weights as stored,
/// into a scratch buffer of the caller's, so no second copy of the weights stays resident) so that one 32-byte vector
/// holds the same 4 consecutive values of the 8 rows, and <see cref="Multiply(GgmlType, byte*, int, byte*, int, int*, int, int, float*, int, int)"/> runs a register tile of up to
/// <see cref="ActivationRows"/> activation rows × 8 weight rows over it.
/// </summary>
/// <remarks>
/// <para>
/// Each product instruction multiplies one such vector with the 4 activations of that position broadcast to the 8 rows,
/// so its lanes belong to the 8 rows (lane pairs 2r, 2r + 1 to row r) and no horizontal sum is ever needed: one
/// <c>pmaddwd</c> by 1 per block leaves the 8 rows' exact int32 block sums in the 8 lanes, which are converted to float32,
/// scaled by d_w·d_a (the 8 weight scales, converted once at packing, times the activation block's scale) and added to the
/// row's accumulator. The 8 results of an activation row are one store.
/// </para>
/// <para>
/// Q4_0: a packed vector holds, for the 8 rows, 4 bytes of a block's nibbles, i.e. 4 values as low nibbles and the 4
/// values 16 further as high nibbles; the unsigned nibbles multiply the signed activations (<c>pmaddubsw</c>) and the 8
/// products of a block are summed in 16 bits (each 16-bit lane is at most 2·15·128 = 3840 in magnitude, 8 of them at
/// most 30720) before the one widening <c>pmaddwd</c>; 8·Σa of the activation block (prepared once per call by
/// <see cref="Prepare"/>) turns Σ nibble·a into Σ (nibble − 8)·a. Q8_0: |w| multiplies sign(a, w), widened per product.
/// With AVX-VNNI every Q4_0 and Q8_0 product is one <c>vpdpbusd</c> into int32 lanes (Q8_0's weights packed as
/// w + 128, less 128·Σa per block, so no sign trick either). The k-quants (see their panel types) multiply the 16-bit
/// sums of a sub-block by its scales in the widening <c>pmaddwd</c>. The integer block sums are those of
/// <see cref="QuantRowDot"/> exactly; only the order of the float32 additions differs (here: block by block).
/// </para>
/// <para>
/// With AVX-512 BW (<see cref="WideSupported"/>, chosen at run time; the 256-bit path stays for AVX2 / AVX-VNNI hosts)
/// the Q4_K and Q6_K products take 8 rows × 2 positions per 512-bit register: the packed vectors are interleaved in pairs
/// so that 8 bytes of each row lie together, one <c>vpbroadcastq</c> of 8 activations feeds a <c>vpmaddubsw</c> of 64
/// bytes, the scales are spread to the rows' lane quadruples for the widening <c>vpmaddwd</c>, and each row's two int32
/// lanes are added once per block (<c>vpmovqd</c> of their 64-bit sum): the same exact int32 block sums, hence the same
/// float32 results, as the 256-bit path.
/// </para>
/// </remarks>
internal static unsafe class QuantPanelGemm
{
    /// <summary>Weight rows per panel.</summary>
    public const int PanelRows = 8;

    /// <summary>Activation rows per register tile.</summary>
    public const int ActivationRows = 4;

    /// <summary>Ints of prepared data per Q8_0 activation block: its scale d_a (float32 bits) and 8·Σa.</summary>
    public const int PreparedInts = 2;

    /// <summary>Ints of prepared data per Q8_K activation block of a Q4_K product: its 8 sums of 32 values as int16 pairs.</summary>
    public const int PreparedIntsQ8_K = 4;

    /// <summary>
    /// True where the 512-bit products of Q4_K and Q6_K panels run (AVX-512 BW): the default of <see cref="Pack(GgmlType, byte*, int, int, int, byte*)"/> and
    /// <see cref="Multiply(GgmlType, byte*, int, byte*, int, int*, int, int, float*, int, int)"/>, which otherwise use the 256-bit AVX2 products. False when the runtime's AVX-512 support is
    /// off (<c>DOTNET_EnableAVX512=0</c> in .NET 10). Q4_0 and Q8_0 keep their 256-bit (AVX-VNNI where present) products on both
    /// paths: .NET exposes <c>vpdpbusd</c> on 256 bits only, and AVX-512 has no <c>vpsignb</c>.
    /// </summary>
    public static bool WideSupported { get; } = Avx512BW.IsSupported;

    /// <summary>True for the weight types with a panel kernel, on machines where it runs (AVX2 and FMA).</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q8_0 or GgmlType.Q4_K or GgmlType.Q6_K && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Bytes of one packed block of 8 rows: float32 scales, int16 sub-block scales (k-quants) and the rows' values.</summary>
    public static int PackedBlockBytes(GgmlType type) => type switch
    {
        GgmlType.Q4_0 => Q4_0Panel.Bytes,
        GgmlType.Q8_0 => Q8_0Panel.Bytes,
        GgmlType.Q4_K => Q4_KPanel.Bytes,
        GgmlType.Q6_K => Q6_KPanel.Bytes,
        _ => throw new NotSupportedException($"no panel kernel for {GgmlTypeTraits.Name(type)}"),
    };

    /// <summary>True when <paramref name="type"/>'s activation rows need <see cref="Prepare"/> (Q4_0, Q8_0 and Q4_K).</summary>
    public static bool NeedsPrepared(GgmlType type) => PreparedIntsPerBlock(type) > 0;

    /// <summary>Ints of <see cref="Prepare"/> data per activation block for <paramref name="type"/>'s product (0: none).</summary>
    public static int PreparedIntsPerBlock(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q8_0 => PreparedInts,
        GgmlType.Q4_K => PreparedIntsQ8_K,
        _ => 0,
    };

    /// <summary>
    /// Prepares the <paramref name="nb"/> activation blocks of the row <paramref name="a"/> for <paramref name="type"/>'s
    /// product (<see cref="PreparedIntsPerBlock"/> ints per block): for Q8_0 activations d_a as float32 bits, then 8·Σ of
    /// the block's 32 quants; for Q4_K's Q8_K activations the 8 sums of 32 values (each the sum of two of the block's
    /// 16-value sums, at most 32·128 in magnitude) as int16 pairs.
    /// </summary>
    public static void Prepare(GgmlType type, byte* a, int nb, int* prepared)
    {
        switch (type)
        {
            case GgmlType.Q4_0 or GgmlType.Q8_0: PrepareQ8_0(a, nb, prepared); break;
            case GgmlType.Q4_K: PrepareQ8_K(a, nb, prepared); break;
            default: throw new NotSupportedException($"no prepared activations for {GgmlTypeTraits.Name(type)}");
        }
    }

    private static void PrepareQ8_K(byte* a, int nb, int* prepared)
    {
        for (int b = 0; b < nb; b++, a += 292, prepared += PreparedIntsQ8_K)
        {
            var sums = Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(a + 260)), Vector256<short>.One);
            var pairs = Avx2.PackSignedSaturate(sums, sums);
            prepared[0] = pairs.AsInt32().GetElement(0);
            prepared[1] = pairs.AsInt32().GetElement(1);
            prepared[2] = pairs.AsInt32().GetElement(4);
            prepared[3] = pairs.AsInt32().GetElement(5);
        }
    }

    private static void PrepareQ8_0(byte* a, int nb, int* prepared)
    {
        float* ht = QuantRowDot.HalfTablePointer;
        for (int b = 0; b < nb; b++, a += 34, prepared += PreparedInts)
        {
            var q = Vector256.Load((sbyte*)(a + 2));
            var (lo, hi) = Vector256.Widen(q);
            ((float*)prepared)[0] = QuantRowDot.Half(ht, a);
            prepared[1] = 8 * Vector256.Sum(Vector256.WidenLower(lo + hi) + Vector256.WidenUpper(lo + hi));
        }
    }

    /// <summary>
    /// Packs <paramref name="count"/> (1..8) weight rows of <paramref name="nb"/> blocks each (<paramref name="rowBytes"/>
    /// apart from <paramref name="w"/>) into <paramref name="panel"/> (<see cref="PackedBlockBytes"/>·nb bytes): per block,
    /// the 8 rows' scales as float32 (k-quants: also the sub-block scales as int16 lane pairs), then 32-byte vectors whose
    /// 4-byte lane r holds 4 consecutive bytes of row r's values (Q4_0, Q4_K: of the packed nibbles; Q8_0: the values,
    /// plus 128 with AVX-VNNI; Q6_K: the 6-bit values unpacked to bytes). Missing rows are zero.
    /// </summary>
    public static void Pack(GgmlType type, byte* w, int rowBytes, int count, int nb, byte* panel) => Pack(type, w, rowBytes, count, nb, panel, WideSupported);

    /// <summary>
    /// As <see cref="Pack(GgmlType, byte*, int, int, int, byte*)"/> for the 256-bit products (<paramref name="wide"/>
    /// false) or the 512-bit ones (true, where <see cref="WideSupported"/>): for Q4_K and Q6_K these read 64-byte vectors
    /// of 8 rows × 8 consecutive values (bytes 8r..8r + 7: row r's values 8k..8k + 7), each pair of 32-byte vectors
    /// interleaved in 8-byte groups after packing; Q4_0 and Q8_0 panels are the same on both paths.
    /// </summary>
    public static void Pack(GgmlType type, byte* w, int rowBytes, int count, int nb, byte* panel, bool wide)
    {
        if (wide && !WideSupported) throw new NotSupportedException("the 512-bit panel products need AVX-512 BW");
        switch (type)
        {
            case GgmlType.Q4_0 when count == PanelRows: Q4_0Panel.PackRows(w, rowBytes, nb, panel); break;
            case GgmlType.Q4_0: Pack<Q4_0Panel>(w, rowBytes, count, nb, panel); break;
            case GgmlType.Q8_0 when count == PanelRows: Q8_0Panel.PackRows(w, rowBytes, nb, panel); break;
            case GgmlType.Q8_0: Pack<Q8_0Panel>(w, rowBytes, count, nb, panel); break;
            case GgmlType.Q4_K when count == PanelRows: Q4_KPanel.PackRows(w, rowBytes, nb, panel); break;
            case GgmlType.Q4_K: Pack<Q4_KPanel>(w, rowBytes, count, nb, panel); break;
            case GgmlType.Q6_K: Pack<Q6_KPanel>(w, rowBytes, count, nb, panel); break;
            default: throw new NotSupportedException($"no panel kernel for {GgmlTypeTraits.Name(type)}");
        }

        if (wide && type == GgmlType.Q4_K) Interleave<Q4_KPanel>(nb, panel);
        if (wide && type == GgmlType.Q6_K) Interleave<Q6_KPanel>(nb, panel);
    }

    /// <summary>Each pair of the packed blocks' 32-byte value vectors (c: bytes 4c.. of the 8 rows) as one 64-byte vector of the 8 rows' bytes 8k..8k + 7.</summary>
    private static void Interleave<TP>(int nb, byte* panel)
        where TP : struct, IPanel
    {
        var order = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        for (int b = 0; b < nb; b++, panel += TP.Bytes)
        {
            byte* q = panel + TP.ValuesAt;
            for (int i = 0; i < TP.ValueBytes; i += 64) Avx512F.PermuteVar16x32(Vector512.Load((int*)(q + i)), order).Store((int*)(q + i));
        }
    }

    private static void Pack<TP>(byte* w, int rowBytes, int count, int nb, byte* panel)
        where TP : struct, IPanel
    {
        int blockBytes = TP.WeightBlockBytes;
        for (int b = 0; b < nb; b++, panel += TP.Bytes)
        {
            for (int r = 0; r < PanelRows; r++)
            {
                TP.PackRow(r < count ? w + ((long)r * rowBytes) + ((long)b * blockBytes) : null, r, panel);
            }
        }
    }

    /// <summary>
    /// y[m·ldy + j] = dot(weight row j, activation row m) for m &lt; <paramref name="rows"/> (1..4) and j &lt;
    /// <paramref name="count"/> (1..8): <paramref name="panel"/> from <see cref="Pack(GgmlType, byte*, int, int, int, byte*)"/>, <paramref name="a"/> the
    /// activation rows in the weight type's activation format (<paramref name="aRowBytes"/> apart) and
    /// <paramref name="prepared"/> their <see cref="Prepare"/> data (<paramref name="preparedRow"/> ints apart; Q8_0 activations only).
    /// </summary>
    public static void Multiply(GgmlType type, byte* panel, int nb, byte* a, int aRowBytes, int* prepared, int preparedRow, int rows, float* y, int ldy, int count)
        => Multiply(type, panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy, count, WideSupported);

    /// <summary>
    /// As <see cref="Multiply(GgmlType, byte*, int, byte*, int, int*, int, int, float*, int, int)"/> with the 256-bit
    /// products (<paramref name="wide"/> false) or the 512-bit ones (true), on a panel packed for them: the same exact
    /// int32 block sums, hence the same float32 results.
    /// </summary>
    public static void Multiply(GgmlType type, byte* panel, int nb, byte* a, int aRowBytes, int* prepared, int preparedRow, int rows, float* y, int ldy, int count, bool wide)
    {
        if (wide && !WideSupported) throw new NotSupportedException("the 512-bit panel products need AVX-512 BW");
        if (wide && type is GgmlType.Q4_K or GgmlType.Q6_K) Multiply<Wide>(type, panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy, count);
        else Multiply<Narrow>(type, panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy, count);
    }

    private static void Multiply<TW>(GgmlType type, byte* panel, int nb, byte* a, int aRowBytes, int* prepared, int preparedRow, int rows, float* y, int ldy, int count)
        where TW : struct, IWidth
    {
        if (count == PanelRows)
        {
            MultiplyFull<TW>(type, panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy);
            return;
        }

        float* tile = stackalloc float[ActivationRows * PanelRows];
        MultiplyFull<TW>(type, panel, nb, a, aRowBytes, prepared, preparedRow, rows, tile, PanelRows);
        for (int m = 0; m < rows; m++)
        {
            for (int j = 0; j < count; j++) y[((long)m * ldy) + j] = tile[(m * PanelRows) + j];
        }
    }

    private static void MultiplyFull<TW>(GgmlType type, byte* panel, int nb, byte* a, int aRowBytes, int* prepared, int preparedRow, int rows, float* y, int ldy)
        where TW : struct, IWidth
    {
        switch (type)
        {
            case GgmlType.Q4_0: Multiply<Q4_0Panel, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy); break;
            case GgmlType.Q8_0: Multiply<Q8_0Panel, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy); break;
            case GgmlType.Q4_K: Multiply<Q4_KPanel, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy); break;
            case GgmlType.Q6_K: Multiply<Q6_KPanel, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, rows, y, ldy); break;
            default: throw new NotSupportedException($"no panel kernel for {GgmlTypeTraits.Name(type)}");
        }
    }

    private static void Multiply<TP, TW>(byte* panel, int nb, byte* a, int aRowBytes, int* prepared, int preparedRow, int rows, float* y, int ldy)
        where TP : struct, IPanel
        where TW : struct, IWidth
    {
        switch (rows)
        {
            case 4: Tile<TP, M4, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, y, ldy); break;
            case 3: Tile<TP, M3, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, y, ldy); break;
            case 2: Tile<TP, M2, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, y, ldy); break;
            default: Tile<TP, M1, TW>(panel, nb, a, aRowBytes, prepared, preparedRow, y, ldy); break;
        }
    }

    /// <summary>
    /// Transposes 8 vectors of 8 int32 lanes (row r's lanes 0..7 → lane r of vectors 0..7) and stores the result as 8
    /// consecutive vectors at <paramref name="to"/>: 4-byte groups of 8 rows interleaved in 16 shuffles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTransposed(
        Vector256<uint> r0, Vector256<uint> r1, Vector256<uint> r2, Vector256<uint> r3,
        Vector256<uint> r4, Vector256<uint> r5, Vector256<uint> r6, Vector256<uint> r7, byte* to)
    {
        // Per 128-bit lane: pairs of rows interleaved, then pairs of pairs: u_c holds lanes c and c + 4 of 4 rows.
        var t0 = Avx2.UnpackLow(r0, r1).AsUInt64();
        var t1 = Avx2.UnpackHigh(r0, r1).AsUInt64();
        var t2 = Avx2.UnpackLow(r2, r3).AsUInt64();
        var t3 = Avx2.UnpackHigh(r2, r3).AsUInt64();
        var t4 = Avx2.UnpackLow(r4, r5).AsUInt64();
        var t5 = Avx2.UnpackHigh(r4, r5).AsUInt64();
        var t6 = Avx2.UnpackLow(r6, r7).AsUInt64();
        var t7 = Avx2.UnpackHigh(r6, r7).AsUInt64();
        var u0 = Avx2.UnpackLow(t0, t2);
        var u1 = Avx2.UnpackHigh(t0, t2);
        var u2 = Avx2.UnpackLow(t1, t3);
        var u3 = Avx2.UnpackHigh(t1, t3);
        var u4 = Avx2.UnpackLow(t4, t6);
        var u5 = Avx2.UnpackHigh(t4, t6);
        var u6 = Avx2.UnpackLow(t5, t7);
        var u7 = Avx2.UnpackHigh(t5, t7);
        Avx2.Permute2x128(u0, u4, 0x20).Store((ulong*)to);
        Avx2.Permute2x128(u1, u5, 0x20).Store((ulong*)(to + 32));
        Avx2.Permute2x128(u2, u6, 0x20).Store((ulong*)(to + 64));
        Avx2.Permute2x128(u3, u7, 0x20).Store((ulong*)(to + 96));
        Avx2.Permute2x128(u0, u4, 0x31).Store((ulong*)(to + 128));
        Avx2.Permute2x128(u1, u5, 0x31).Store((ulong*)(to + 160));
        Avx2.Permute2x128(u2, u6, 0x31).Store((ulong*)(to + 192));
        Avx2.Permute2x128(u3, u7, 0x31).Store((ulong*)(to + 224));
    }

    /// <summary>The 4 bytes at <paramref name="p"/> repeated over 32 bytes (<c>vpbroadcastd</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Broadcast(byte* p) => Vector256.Create(Unsafe.ReadUnaligned<int>(p)).AsSByte();

    /// <summary>Σ over lane pairs of 16-bit products: the 8 rows' int32 sums (<c>pmaddwd</c> by 1, or by the rows' sub-block scales).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen(Vector256<short> s, Vector256<short> scales) => Avx2.MultiplyAddAdjacent(s, scales);

    /// <summary>16-bit products of unsigned weight bytes with the activations broadcast from <paramref name="a"/>, summed in pairs (<c>pmaddubsw</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Mul(Vector256<byte> u, byte* a) => Avx2.MultiplyAddAdjacent(u, Broadcast(a));

    /// <summary>The 8 bytes at <paramref name="p"/> repeated over 64 bytes (<c>vpbroadcastq</c>): 8 activations for the 8 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Broadcast8(byte* p) => Vector512.Create(Unsafe.ReadUnaligned<long>(p)).AsSByte();

    /// <summary>16-bit products of 64 unsigned weight bytes (8 rows × 8 values) with the 8 activations broadcast from <paramref name="a"/>, summed in pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Mul512(Vector512<byte> u, byte* a) => Avx512BW.MultiplyAddAdjacent(u, Broadcast8(a));

    /// <summary>A 32-byte vector of the 8 rows' int32 lane pairs (lane r: row r) as 64 bytes with lane r in lanes 2r and 2r + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Spread(short* v)
        => Avx512F.PermuteVar16x32(Vector256.Load((int*)v).ToVector512Unsafe(), Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)).AsInt16();

    /// <summary>The 8 rows' int32 sums from 16 lanes (row r: lanes 2r and 2r + 1): each lane pair added as the low half of a 64-bit sum, then narrowed (<c>vpmovqd</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Fold(Vector512<int> s)
    {
        var q = s.AsInt64();
        return Avx512F.ConvertToVector256Int32(q + Avx512F.ShiftRightLogical(q, 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TP, TM, TW>(byte* panel, int nb, byte* a, int aRowBytes, int* prepared, int preparedRow, float* y, int ldy)
        where TP : struct, IPanel
        where TM : struct, IRowCount
        where TW : struct, IWidth
    {
        int n = TM.Count;
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
        byte* a0 = a;
        byte* a1 = n > 1 ? a0 + aRowBytes : a0;
        byte* a2 = n > 2 ? a1 + aRowBytes : a0;
        byte* a3 = n > 3 ? a2 + aRowBytes : a0;
        int* p0 = prepared;
        int* p1 = n > 1 ? p0 + preparedRow : p0;
        int* p2 = n > 2 ? p1 + preparedRow : p0;
        int* p3 = n > 3 ? p2 + preparedRow : p0;
        int step = TP.Bytes, aStep = TP.ActivationBlockBytes, pStep = TP.PreparedInts;
        for (int b = 0; b < nb; b++, panel += step, a0 += aStep, a1 += aStep, a2 += aStep, a3 += aStep, p0 += pStep, p1 += pStep, p2 += pStep, p3 += pStep)
        {
            if (TW.Is512) TP.Block512<TM>(panel, a0, a1, a2, a3, p0, p1, p2, p3, ref c0, ref c1, ref c2, ref c3);
            else TP.Block<TM>(panel, a0, a1, a2, a3, p0, p1, p2, p3, ref c0, ref c1, ref c2, ref c3);
        }

        c0.Store(y);
        if (n > 1) c1.Store(y + ldy);
        if (n > 2) c2.Store(y + (2 * ldy));
        if (n > 3) c3.Store(y + (3 * ldy));
    }

    /// <summary>The product's vector width, as a type argument (the JIT keeps one path per instantiation).</summary>
    private interface IWidth
    {
        static abstract bool Is512 { get; }
    }

    private readonly struct Narrow : IWidth
    {
        public static bool Is512 => false;
    }

    private readonly struct Wide : IWidth
    {
        public static bool Is512 => true;
    }

    /// <summary>The number of activation rows of a tile, as a type argument (the JIT drops the code of the missing rows).</summary>
    private interface IRowCount
    {
        static abstract int Count { get; }
    }

    private readonly struct M1 : IRowCount
    {
        public static int Count => 1;
    }

    private readonly struct M2 : IRowCount
    {
        public static int Count => 2;
    }

    private readonly struct M3 : IRowCount
    {
        public static int Count => 3;
    }

    private readonly struct M4 : IRowCount
    {
        public static int Count => 4;
    }

    /// <summary>A weight type's packed block of 8 rows: its layout, its packing and its product with up to 4 activation rows.</summary>
    private interface IPanel
    {
        /// <summary>Bytes of a packed block.</summary>
        static abstract int Bytes { get; }

        /// <summary>Bytes of one block of the weight type as stored.</summary>
        static abstract int WeightBlockBytes { get; }

        /// <summary>Bytes of one block of the activations (Q8_0: 34, Q8_K: 292).</summary>
        static abstract int ActivationBlockBytes { get; }

        /// <summary>Ints of <see cref="Prepare"/> data the product reads per activation block (0: none).</summary>
        static abstract int PreparedInts { get; }

        /// <summary>Offset of the values' vectors in a packed block.</summary>
        static abstract int ValuesAt { get; }

        /// <summary>Bytes of the values' vectors of a packed block (a multiple of 64).</summary>
        static abstract int ValueBytes { get; }

        /// <summary>Writes row <paramref name="r"/>'s part of the packed block at <paramref name="packed"/> from its block <paramref name="block"/> (null: zeros), in the 256-bit layout.</summary>
        static abstract void PackRow(byte* block, int r, byte* packed);

        /// <summary>Adds the block's products to the accumulators of the activation rows (a0..a3: their blocks, p0..p3: their prepared data).</summary>
        static abstract void Block<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount;

        /// <summary>As <see cref="Block{TM}"/> on a block packed with <c>wide</c> (Q4_K, Q6_K: 512-bit products; Q4_0, Q8_0: <see cref="Block{TM}"/> itself).</summary>
        static abstract void Block512<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount;
    }

    /// <summary>Q4_0: 8 float32 scales, 4 vectors of 8 rows × 4 bytes of packed nibbles (bytes 4c..4c+3: values 4c.. and 16 + 4c..).</summary>
    private readonly struct Q4_0Panel : IPanel
    {
        public static int Bytes => 32 + 128;

        public static int WeightBlockBytes => 18;

        public static int ActivationBlockBytes => 34;

        public static int PreparedInts => QuantPanelGemm.PreparedInts;

        public static int ValuesAt => 32;

        public static int ValueBytes => 128;

        public static void PackRow(byte* block, int r, byte* packed)
        {
            uint* q = (uint*)(packed + 32);
            ((float*)packed)[r] = block == null ? 0 : QuantRowDot.Half(QuantRowDot.HalfTablePointer, block);
            for (int c = 0; c < 4; c++) q[(c * PanelRows) + r] = block == null ? 0 : Unsafe.ReadUnaligned<uint>(block + 2 + (4 * c));
        }

        /// <summary>
        /// As <see cref="PackRow"/> for 8 rows at once: rows r and r + 4 of a block share a vector (16 bytes each), so a
        /// 4 × 4 transpose of int32 in each 128-bit lane gives the 4 packed vectors.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void PackRows(byte* w, int rowBytes, int nb, byte* packed)
        {
            float* ht = QuantRowDot.HalfTablePointer;
            long stride = rowBytes;
            for (int b = 0; b < nb; b++, w += 18, packed += Bytes)
            {
                byte* r = w;
                for (int i = 0; i < PanelRows; i++, r += stride) ((float*)packed)[i] = QuantRowDot.Half(ht, r);
                var v0 = Vector256.Create(Vector128.Load((uint*)(w + 2)), Vector128.Load((uint*)(w + (4 * stride) + 2)));
                var v1 = Vector256.Create(Vector128.Load((uint*)(w + stride + 2)), Vector128.Load((uint*)(w + (5 * stride) + 2)));
                var v2 = Vector256.Create(Vector128.Load((uint*)(w + (2 * stride) + 2)), Vector128.Load((uint*)(w + (6 * stride) + 2)));
                var v3 = Vector256.Create(Vector128.Load((uint*)(w + (3 * stride) + 2)), Vector128.Load((uint*)(w + (7 * stride) + 2)));
                var t0 = Avx2.UnpackLow(v0, v1).AsUInt64();
                var t1 = Avx2.UnpackHigh(v0, v1).AsUInt64();
                var t2 = Avx2.UnpackLow(v2, v3).AsUInt64();
                var t3 = Avx2.UnpackHigh(v2, v3).AsUInt64();
                Avx2.UnpackLow(t0, t2).Store((ulong*)(packed + 32));
                Avx2.UnpackHigh(t0, t2).Store((ulong*)(packed + 64));
                Avx2.UnpackLow(t1, t3).Store((ulong*)(packed + 96));
                Avx2.UnpackHigh(t1, t3).Store((ulong*)(packed + 128));
            }
        }

        /// <summary>16-bit sums of nibble·a (AVX2) or int32 sums (AVX-VNNI) of the low and high nibbles with the activations at a and a + 16.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Dot(Vector256<int> s, Vector256<byte> lo, Vector256<byte> hi, byte* a)
        {
            if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(s, lo, Broadcast(a)), hi, Broadcast(a + 16));
            return (s.AsInt16() + (Mul(lo, a) + Mul(hi, a + 16))).AsInt32();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Finish(Vector256<int> s, int* prepared, Vector256<float> d, Vector256<float> acc)
        {
            var sums = (AvxVnni.IsSupported ? s : Widen(s.AsInt16(), Vector256<short>.One)) - Vector256.Create(prepared[1]);
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), d * Vector256.Create(*(float*)prepared), acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            var mask = Vector256.Create((byte)0x0F);
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            byte* q = packed + 32;
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(q + (32 * c));
                var lo = v & mask;
                var hi = Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
                int o = 2 + (4 * c);
                s0 = Dot(s0, lo, hi, a0 + o);
                if (n > 1) s1 = Dot(s1, lo, hi, a1 + o);
                if (n > 2) s2 = Dot(s2, lo, hi, a2 + o);
                if (n > 3) s3 = Dot(s3, lo, hi, a3 + o);
            }

            var d = Vector256.Load((float*)packed);
            c0 = Finish(s0, p0, d, c0);
            if (n > 1) c1 = Finish(s1, p1, d, c1);
            if (n > 2) c2 = Finish(s2, p2, d, c2);
            if (n > 3) c3 = Finish(s3, p3, d, c3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block512<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
            => Block<TM>(packed, a0, a1, a2, a3, p0, p1, p2, p3, ref c0, ref c1, ref c2, ref c3);
    }

    /// <summary>
    /// Q8_0: 8 float32 scales, 8 vectors of 8 rows × 4 values (vector c: values 4c..4c+3). With AVX-VNNI the values are
    /// stored as the unsigned bytes w + 128, so that each product is one <c>vpdpbusd</c> with the signed activations
    /// (exact int32 sums, no sign trick) and 128·Σa (16 times the prepared 8·Σa) is subtracted per block; on AVX2
    /// they are stored as they are and |w| multiplies sign(a, w) (<c>pmaddubsw</c>), widened per product.
    /// </summary>
    private readonly struct Q8_0Panel : IPanel
    {
        public static int Bytes => 32 + 256;

        public static int WeightBlockBytes => 34;

        public static int ActivationBlockBytes => 34;

        public static int PreparedInts => QuantPanelGemm.PreparedInts;

        public static int ValuesAt => 32;

        public static int ValueBytes => 256;

        public static void PackRow(byte* block, int r, byte* packed)
        {
            uint* q = (uint*)(packed + 32);
            ((float*)packed)[r] = block == null ? 0 : QuantRowDot.Half(QuantRowDot.HalfTablePointer, block);
            uint offset = AvxVnni.IsSupported ? 0x80808080u : 0;
            for (int c = 0; c < 8; c++) q[(c * PanelRows) + r] = block == null ? offset : Unsafe.ReadUnaligned<uint>(block + 2 + (4 * c)) ^ offset;
        }

        /// <summary>As <see cref="PackRow"/> for 8 rows at once: each block's 8 × 32 value bytes transposed in 4-byte groups.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void PackRows(byte* w, int rowBytes, int nb, byte* packed)
        {
            float* ht = QuantRowDot.HalfTablePointer;
            var offset = Vector256.Create(AvxVnni.IsSupported ? 0x80808080u : 0);
            long stride = rowBytes;
            for (int b = 0; b < nb; b++, w += 34, packed += Bytes)
            {
                byte* r = w;
                for (int i = 0; i < PanelRows; i++, r += stride) ((float*)packed)[i] = QuantRowDot.Half(ht, r);
                StoreTransposed(
                    Vector256.Load((uint*)(w + 2)) ^ offset,
                    Vector256.Load((uint*)(w + stride + 2)) ^ offset,
                    Vector256.Load((uint*)(w + (2 * stride) + 2)) ^ offset,
                    Vector256.Load((uint*)(w + (3 * stride) + 2)) ^ offset,
                    Vector256.Load((uint*)(w + (4 * stride) + 2)) ^ offset,
                    Vector256.Load((uint*)(w + (5 * stride) + 2)) ^ offset,
                    Vector256.Load((uint*)(w + (6 * stride) + 2)) ^ offset,
                    Vector256.Load((uint*)(w + (7 * stride) + 2)) ^ offset,
                    packed + 32);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Finish(Vector256<int> s, int* prepared, Vector256<float> d, Vector256<float> acc)
        {
            if (AvxVnni.IsSupported) s -= Vector256.Create(prepared[1] << 4);
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), d * Vector256.Create(*(float*)prepared), acc);
        }

        /// <summary>Adds the products of the 4-value position <paramref name="x"/> (AVX-VNNI: w + 128; <paramref name="u"/>: |w|, AVX2 only) with the activations at <paramref name="a"/> to <paramref name="s"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Dot(Vector256<int> s, Vector256<sbyte> x, Vector256<byte> u, byte* a)
            => AvxVnni.IsSupported
                ? AvxVnni.MultiplyWideningAndAdd(s, x.AsByte(), Broadcast(a))
                : QuantRowDot.DotU8S8(s, u, Avx2.Sign(Broadcast(a), x));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            byte* q = packed + 32;
            for (int c = 0; c < 8; c++)
            {
                var x = Vector256.Load((sbyte*)(q + (32 * c)));
                var u = AvxVnni.IsSupported ? default : Avx2.Abs(x);
                int o = 2 + (4 * c);
                s0 = Dot(s0, x, u, a0 + o);
                if (n > 1) s1 = Dot(s1, x, u, a1 + o);
                if (n > 2) s2 = Dot(s2, x, u, a2 + o);
                if (n > 3) s3 = Dot(s3, x, u, a3 + o);
            }

            var d = Vector256.Load((float*)packed);
            c0 = Finish(s0, p0, d, c0);
            if (n > 1) c1 = Finish(s1, p1, d, c1);
            if (n > 2) c2 = Finish(s2, p2, d, c2);
            if (n > 3) c3 = Finish(s3, p3, d, c3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block512<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
            => Block<TM>(packed, a0, a1, a2, a3, p0, p1, p2, p3, ref c0, ref c1, ref c2, ref c3);
    }

    /// <summary>
    /// Q4_K (Q8_K activations): 8 float32 d, 8 float32 dmin, 8 vectors of the sub-blocks' 6-bit scales (vector j: lanes
    /// 2r and 2r + 1 hold row r's scale of sub-block j) and 4 of their minimums (vector j: lanes 2r and 2r + 1 hold row
    /// r's minimums of sub-blocks 2j and 2j + 1), then 64 vectors of the nibbles unpacked to bytes at packing (vector c:
    /// values 4c..4c+3 of each row), so that the product loads each vector ready for <c>pmaddubsw</c>.
    /// Per sub-block of 32 values the 8 nibble products are summed in 16 bits (at most 8·2·15·128 = 30720) and
    /// multiplied by the rows' scales in the widening <c>pmaddwd</c>; the minimums multiply the activations'
    /// 32-value sums (<see cref="Prepare"/>) the same way: d·d_a·Σ scale·(q·a) − dmin·d_a·Σ min·bsum per row, as
    /// <see cref="QuantRowDot.Q4_K{T}"/>.
    /// </summary>
    private readonly struct Q4_KPanel : IPanel
    {
        public static int Bytes => QsAt + 2048;

        public static int WeightBlockBytes => 144;

        public static int ActivationBlockBytes => 292;

        public static int PreparedInts => PreparedIntsQ8_K;

        /// <summary>Offset of the minimums' vectors.</summary>
        private const int MinsAt = 64 + 256;

        /// <summary>Offset of the packed nibbles.</summary>
        private const int QsAt = MinsAt + 128;

        public static int ValuesAt => QsAt;

        public static int ValueBytes => 2048;

        public static void PackRow(byte* block, int r, byte* packed)
        {
            uint* scales = (uint*)(packed + 64);
            uint* mins = (uint*)(packed + MinsAt);
            uint* q = (uint*)(packed + QsAt);
            if (block == null)
            {
                ((float*)packed)[r] = ((float*)packed)[8 + r] = 0;
                for (int j = 0; j < 8; j++) scales[(j * PanelRows) + r] = 0;
                for (int j = 0; j < 4; j++) mins[(j * PanelRows) + r] = 0;
                for (int c = 0; c < 64; c++) q[(c * PanelRows) + r] = 0;
                return;
            }

            PackScales(block, r, packed);

            // Sub-block 2g is the low nibbles of bytes 32g..32g + 31, sub-block 2g + 1 their high nibbles.
            var mask = Vector256.Create((byte)0x0F);
            uint* v = stackalloc uint[16];
            for (int g = 0; g < 4; g++)
            {
                var packedNibbles = Vector256.Load(block + 16 + (32 * g));
                (packedNibbles & mask).Store((byte*)v);
                (Vector256.ShiftRightLogical(packedNibbles, 4) & mask).Store((byte*)(v + 8));
                for (int c = 0; c < 16; c++) q[(((16 * g) + c) * PanelRows) + r] = v[c];
            }
        }

        /// <summary>As <see cref="PackRow"/> for 8 rows at once: each 32 bytes of nibbles of the 8 rows unpacked and transposed in 4-byte groups.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void PackRows(byte* w, int rowBytes, int nb, byte* packed)
        {
            long stride = rowBytes;
            var mask = Vector256.Create((byte)0x0F);
            for (int b = 0; b < nb; b++, w += 144, packed += Bytes)
            {
                byte* r = w;
                for (int i = 0; i < PanelRows; i++, r += stride) PackScales(r, i, packed);
                byte* q = packed + QsAt;
                for (int g = 0; g < 4; g++, q += 16 * 32)
                {
                    byte* n = w + 16 + (32 * g);
                    var n0 = Vector256.Load(n);
                    var n1 = Vector256.Load(n + stride);
                    var n2 = Vector256.Load(n + (2 * stride));
                    var n3 = Vector256.Load(n + (3 * stride));
                    var n4 = Vector256.Load(n + (4 * stride));
                    var n5 = Vector256.Load(n + (5 * stride));
                    var n6 = Vector256.Load(n + (6 * stride));
                    var n7 = Vector256.Load(n + (7 * stride));
                    StoreTransposed(
                        (n0 & mask).AsUInt32(), (n1 & mask).AsUInt32(), (n2 & mask).AsUInt32(), (n3 & mask).AsUInt32(),
                        (n4 & mask).AsUInt32(), (n5 & mask).AsUInt32(), (n6 & mask).AsUInt32(), (n7 & mask).AsUInt32(),
                        q);
                    StoreTransposed(
                        High(n0, mask), High(n1, mask), High(n2, mask), High(n3, mask),
                        High(n4, mask), High(n5, mask), High(n6, mask), High(n7, mask),
                        q + (8 * 32));
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<uint> High(Vector256<byte> nibbles, Vector256<byte> mask)
            => (Avx2.ShiftRightLogical(nibbles.AsUInt16(), 4).AsByte() & mask).AsUInt32();

        /// <summary>Row <paramref name="r"/>'s d, dmin, sub-block scales and minimums of the block at <paramref name="block"/>.</summary>
        private static void PackScales(byte* block, int r, byte* packed)
        {
            uint* scales = (uint*)(packed + 64);
            uint* mins = (uint*)(packed + MinsAt);
            float* ht = QuantRowDot.HalfTablePointer;
            ((float*)packed)[r] = QuantRowDot.Half(ht, block);
            ((float*)packed)[8 + r] = QuantRowDot.Half(ht, block + 2);

            // The 12 bytes of 6-bit scales and minimums unpacked to 8 scale bytes then 8 minimum bytes (ggml's kmask
            // arrangement): sub-blocks 0..3 keep their low 6 bits, 4..7 take a nibble and the 2 spare bits of 0..3.
            uint u0 = Unsafe.ReadUnaligned<uint>(block + 4), u1 = Unsafe.ReadUnaligned<uint>(block + 8), u2 = Unsafe.ReadUnaligned<uint>(block + 12);
            ulong sc = (u0 & 0x3F3F3F3Fu) | ((ulong)((u2 & 0x0F0F0F0Fu) | (((u0 >> 6) & 0x03030303u) << 4)) << 32);
            ulong mn = (u1 & 0x3F3F3F3Fu) | ((ulong)(((u2 >> 4) & 0x0F0F0F0Fu) | (((u1 >> 6) & 0x03030303u) << 4)) << 32);
            for (int j = 0; j < 8; j++) scales[(j * PanelRows) + r] = (uint)((sc >> (8 * j)) & 0xFF) * 0x10001u;
            for (int j = 0; j < 4; j++) mins[(j * PanelRows) + r] = (uint)((mn >> (16 * j)) & 0xFF) | ((uint)((mn >> ((16 * j) + 8)) & 0xFF) << 16);
        }

        /// <summary>Adds scale·Σ q·a over one sub-block (8 vectors of its values as bytes) to each row's sums.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void SubBlock<TM>(
            byte* q, Vector256<short> scales, byte* a0, byte* a1, byte* a2, byte* a3,
            ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector256<short> l0 = default, l1 = default, l2 = default, l3 = default;
            for (int c = 0; c < 8; c++)
            {
                var u = Vector256.Load(q + (32 * c));
                int o = 4 * c;
                l0 += Mul(u, a0 + o);
                if (n > 1) l1 += Mul(u, a1 + o);
                if (n > 2) l2 += Mul(u, a2 + o);
                if (n > 3) l3 += Mul(u, a3 + o);
            }

            s0 += Widen(l0, scales);
            if (n > 1) s1 += Widen(l1, scales);
            if (n > 2) s2 += Widen(l2, scales);
            if (n > 3) s3 += Widen(l3, scales);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Finish(Vector256<int> sums, Vector256<int> mins, byte* a, byte* packed, Vector256<float> acc)
        {
            var da = Vector256.Create(*(float*)a);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Vector256.Load((float*)packed) * da, acc);
            return Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(mins), Vector256.Load((float*)packed + 8) * da, acc);
        }

        /// <summary>Σ_j min_j·(bsum_2j + bsum_2j+1) for the 8 rows: the rows' minimums, two sub-blocks per lane pair, times the activation block's prepared 32-value sums.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Mins(byte* packed, int* prepared)
        {
            short* mins = (short*)(packed + MinsAt);
            var s = Widen(Vector256.Load(mins), Broadcast((byte*)prepared).AsInt16());
            s += Widen(Vector256.Load(mins + 16), Broadcast((byte*)(prepared + 1)).AsInt16());
            s += Widen(Vector256.Load(mins + 32), Broadcast((byte*)(prepared + 2)).AsInt16());
            return s + Widen(Vector256.Load(mins + 48), Broadcast((byte*)(prepared + 3)).AsInt16());
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            short* scales = (short*)(packed + 64);
            byte* q = packed + QsAt;
            for (int j = 0; j < 8; j++)
            {
                // One sub-block at a time, so that the 4 rows' 16-bit sums, the 4 accumulators and the operands fit the registers.
                int o = 4 + (32 * j);
                SubBlock<TM>(q + (256 * j), Vector256.Load(scales + (16 * j)), a0 + o, a1 + o, a2 + o, a3 + o, ref s0, ref s1, ref s2, ref s3);
            }

            c0 = Finish(s0, Mins(packed, p0), a0, packed, c0);
            if (n > 1) c1 = Finish(s1, Mins(packed, p1), a1, packed, c1);
            if (n > 2) c2 = Finish(s2, Mins(packed, p2), a2, packed, c2);
            if (n > 3) c3 = Finish(s3, Mins(packed, p3), a3, packed, c3);
        }

        /// <summary>
        /// As <see cref="Block{TM}"/> with 64-byte vectors of 8 values per row: 4 products per sub-block, each 16-bit lane
        /// summing at most 4·2·15·128 = 15360, widened by the scales spread to the lane quadruples of the rows.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block512<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
            short* scales = (short*)(packed + 64);
            byte* q = packed + QsAt;
            for (int j = 0; j < 8; j++)
            {
                byte* qj = q + (256 * j);
                int o = 4 + (32 * j);
                Vector512<short> l0 = default, l1 = default, l2 = default, l3 = default;
                for (int t = 0; t < 4; t++)
                {
                    var u = Vector512.Load(qj + (64 * t));
                    int ot = o + (8 * t);
                    l0 += Mul512(u, a0 + ot);
                    if (n > 1) l1 += Mul512(u, a1 + ot);
                    if (n > 2) l2 += Mul512(u, a2 + ot);
                    if (n > 3) l3 += Mul512(u, a3 + ot);
                }

                var sc = Spread(scales + (16 * j));
                s0 += Avx512BW.MultiplyAddAdjacent(l0, sc);
                if (n > 1) s1 += Avx512BW.MultiplyAddAdjacent(l1, sc);
                if (n > 2) s2 += Avx512BW.MultiplyAddAdjacent(l2, sc);
                if (n > 3) s3 += Avx512BW.MultiplyAddAdjacent(l3, sc);
            }

            c0 = Finish(Fold(s0), Mins(packed, p0), a0, packed, c0);
            if (n > 1) c1 = Finish(Fold(s1), Mins(packed, p1), a1, packed, c1);
            if (n > 2) c2 = Finish(Fold(s2), Mins(packed, p2), a2, packed, c2);
            if (n > 3) c3 = Finish(Fold(s3), Mins(packed, p3), a3, packed, c3);
        }
    }

    /// <summary>
    /// Q6_K (Q8_K activations): 8 float32 d, 16 vectors of the rows' int8 scales of each 16 values (lanes 2r, 2r + 1: row
    /// r), 8 vectors of the scales of the 16-value groups 2t and 2t + 1 (lanes 2r and 2r + 1), then 64 vectors of the
    /// 6-bit values unpacked to bytes (vector c: values 4c..4c+3 of each row). Two products of 6-bit values with the
    /// activations fit 16 bits (2·2·63·128 = 32256), so each 16-value group is two <c>pmaddubsw</c> pairs widened by its
    /// scales; the offset of 32 subtracts 32·Σ scale·bsum: d·d_a·(Σ scale·(q·a) − 32·Σ scale·bsum), as <see cref="QuantRowDot.Q6_K{T}"/>.
    /// </summary>
    private readonly struct Q6_KPanel : IPanel
    {
        public static int Bytes => 32 + 512 + 256 + 2048;

        public static int WeightBlockBytes => 210;

        public static int ActivationBlockBytes => 292;

        public static int PreparedInts => 0;

        public static int ValuesAt => 32 + 512 + 256;

        public static int ValueBytes => 2048;

        public static void PackRow(byte* block, int r, byte* packed)
        {
            ((float*)packed)[r] = block == null ? 0 : QuantRowDot.Half(QuantRowDot.HalfTablePointer, block + 208);
            short* scales = (short*)(packed + 32);
            short* pairs = (short*)(packed + 32 + 512);
            for (int k = 0; k < 16; k++)
            {
                short s = block == null ? (short)0 : ((sbyte*)block)[192 + k];
                scales[(16 * k) + (2 * r)] = scales[(16 * k) + (2 * r) + 1] = s;
                pairs[(16 * (k / 2)) + (2 * r) + (k % 2)] = s;
            }

            uint* q = (uint*)(packed + 32 + 512 + 256);
            if (block == null)
            {
                for (int c = 0; c < 64; c++) q[(c * PanelRows) + r] = 0;
                return;
            }

            var m4 = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x03);
            uint* v = stackalloc uint[8 * 4];
            for (int h = 0; h < 2; h++)
            {
                var ql0 = Vector256.Load(block + (64 * h));
                var ql1 = Vector256.Load(block + (64 * h) + 32);
                var qh = Vector256.Load(block + 128 + (32 * h));
                ((ql0 & m4) | Vector256.ShiftLeft(qh & m2, 4)).Store((byte*)v);
                ((ql1 & m4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2) & m2, 4)).Store((byte*)(v + 8));
                (Vector256.ShiftRightLogical(ql0, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 4) & m2, 4)).Store((byte*)(v + 16));
                (Vector256.ShiftRightLogical(ql1, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 6), 4)).Store((byte*)(v + 24));

                // Values 128h + 32i + 4l.. are quad 32h + 8i + l.
                for (int c = 0; c < 32; c++) q[(((32 * h) + c) * PanelRows) + r] = v[c];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Group(Vector256<int> s, byte* q, short* scales, byte* a)
        {
            var p = Mul(Vector256.Load(q), a) + Mul(Vector256.Load(q + 32), a + 4);
            var r = Mul(Vector256.Load(q + 64), a + 8) + Mul(Vector256.Load(q + 96), a + 12);
            var sc = Vector256.Load(scales);
            return s + Widen(p, sc) + Widen(r, sc);
        }

        /// <summary>32·Σ_k scale_k·bsum_k for the 8 rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Offsets(short* pairs, byte* a)
        {
            var s = Vector256<int>.Zero;
            for (int t = 0; t < 8; t++) s += Widen(Vector256.Load(pairs + (16 * t)), Broadcast(a + 260 + (4 * t)).AsInt16());
            return Avx2.ShiftLeftLogical(s, 5);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Finish(Vector256<int> sums, short* pairs, byte* a, Vector256<float> d, Vector256<float> acc)
            => Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums - Offsets(pairs, a)), d * Vector256.Create(*(float*)a), acc);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
            short* scales = (short*)(packed + 32);
            short* pairs = (short*)(packed + 32 + 512);
            byte* q = packed + 32 + 512 + 256;
            for (int k = 0; k < 16; k++)
            {
                byte* qk = q + (128 * k);
                short* sk = scales + (16 * k);
                int o = 4 + (16 * k);
                s0 = Group(s0, qk, sk, a0 + o);
                if (n > 1) s1 = Group(s1, qk, sk, a1 + o);
                if (n > 2) s2 = Group(s2, qk, sk, a2 + o);
                if (n > 3) s3 = Group(s3, qk, sk, a3 + o);
            }

            var d = Vector256.Load((float*)packed);
            c0 = Finish(s0, pairs, a0, d, c0);
            if (n > 1) c1 = Finish(s1, pairs, a1, d, c1);
            if (n > 2) c2 = Finish(s2, pairs, a2, d, c2);
            if (n > 3) c3 = Finish(s3, pairs, a3, d, c3);
        }

        /// <summary>Σ scale·(q·a) of one 16-value group of 64-byte vectors: two products of 8 values, summed in 16 bits (at most 2·2·63·128 = 32256) and widened by the spread scales.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Group512(Vector512<int> s, Vector512<byte> u0, Vector512<byte> u1, Vector512<short> sc, byte* a)
            => s + Avx512BW.MultiplyAddAdjacent(Mul512(u0, a) + Mul512(u1, a + 8), sc);

        /// <summary>As <see cref="Block{TM}"/> with 64-byte vectors of 8 values per row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block512<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
            short* scales = (short*)(packed + 32);
            short* pairs = (short*)(packed + 32 + 512);
            byte* q = packed + 32 + 512 + 256;
            for (int k = 0; k < 16; k++)
            {
                byte* qk = q + (128 * k);
                var u0 = Vector512.Load(qk);
                var u1 = Vector512.Load(qk + 64);
                var sc = Spread(scales + (16 * k));
                int o = 4 + (16 * k);
                s0 = Group512(s0, u0, u1, sc, a0 + o);
                if (n > 1) s1 = Group512(s1, u0, u1, sc, a1 + o);
                if (n > 2) s2 = Group512(s2, u0, u1, sc, a2 + o);
                if (n > 3) s3 = Group512(s3, u0, u1, sc, a3 + o);
            }

            var d = Vector256.Load((float*)packed);
            c0 = Finish(Fold(s0), pairs, a0, d, c0);
            if (n > 1) c1 = Finish(Fold(s1), pairs, a1, d, c1);
            if (n > 2) c2 = Finish(Fold(s2), pairs, a2, d, c2);
            if (n > 3) c3 = Finish(Fold(s3), pairs, a3, d, c3);
        }
    }
}
