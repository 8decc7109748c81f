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
/// <see cref="Prepare(GgmlType, byte*, int, int*)"/>) turns Σ nibble·a into Σ (nibble − 8)·a. Q8_0: |w| multiplies sign(a, w), widened per product.
/// With AVX-VNNI every Q4_0 and Q8_0 product is one <c>vpdpbusd</c> into int32 lanes (Q8_0's weights packed as
/// w + 128, less 128·Σa per block, so no sign trick either). The k-quants (see their panel types) multiply the 16-bit
/// sums of a sub-block by its scales in the widening <c>pmaddwd</c>. The integer block sums are those of
/// <see cref="QuantRowDot"/> exactly; only the order of the float32 additions differs (here: block by block).
/// </para>
/// <para>
/// With AVX-512 BW (<see cref="WideSupported"/>, chosen at run time; the 256-bit path stays for AVX2 / AVX-VNNI hosts)
/// the Q4_K and Q6_K products take 8 rows × 8 values per 512-bit register: one <c>vpbroadcastq</c> of 8 activations feeds
/// a <c>vpmaddubsw</c> of 64 bytes and each row's two int32 lanes are added once per block. Q4_K's 8 bytes of a row hold
/// 4 values of each of two sub-blocks (the activations' quants re-ordered alike by <see cref="Prepare(GgmlType, byte*, int, int*, bool)"/>),
/// so one <c>vpmaddwd</c> widens a sub-block pair by its two scales; Q6_K's hold 8 values as signed q − 32 against the
/// activations plus 128, the weight-only correction 128·Σ scale·Σ(q − 32) packed per row and block. The exact int32 block
/// sums, and the float32 operations on them, are those of the 256-bit path, so the results are the same bit for bit.
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

    /// <summary>Ints of prepared data per Q8_K activation block of a 512-bit Q4_K product: the sums of <see cref="PreparedIntsQ8_K"/>, then the block's 256 quants re-ordered for the paired sub-blocks.</summary>
    public const int PreparedIntsQ8_KWide = PreparedIntsQ8_K + 64;

    /// <summary>Ints of prepared data per Q8_K activation block of a 512-bit Q6_K product: the block's 256 quants plus 128, as unsigned bytes.</summary>
    public const int PreparedIntsQ6_KWide = 64;

    /// <summary>True when <paramref name="type"/>'s activation rows need <see cref="Prepare(GgmlType, byte*, int, int*)"/> (Q4_0, Q8_0 and Q4_K).</summary>
    public static bool NeedsPrepared(GgmlType type) => PreparedIntsPerBlock(type) > 0;

    /// <summary>Ints of <see cref="Prepare(GgmlType, byte*, int, int*)"/> data per activation block for <paramref name="type"/>'s product (0: none), on the default path.</summary>
    public static int PreparedIntsPerBlock(GgmlType type) => PreparedIntsPerBlock(type, WideSupported);

    /// <summary>Ints of prepared data per activation block for <paramref name="type"/>'s product on the 256-bit (<paramref name="wide"/> false) or the 512-bit path (0: none).</summary>
    public static int PreparedIntsPerBlock(GgmlType type, bool wide) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q8_0 => PreparedInts,
        GgmlType.Q4_K => wide ? PreparedIntsQ8_KWide : PreparedIntsQ8_K,
        GgmlType.Q6_K => wide ? PreparedIntsQ6_KWide : 0,
        _ => 0,
    };

    /// <summary>
    /// Prepares the <paramref name="nb"/> activation blocks of the row <paramref name="a"/> for <paramref name="type"/>'s
    /// product on the default path (<see cref="PreparedIntsPerBlock(GgmlType)"/> ints per block).
    /// </summary>
    public static void Prepare(GgmlType type, byte* a, int nb, int* prepared) => Prepare(type, a, nb, prepared, WideSupported);

    /// <summary>
    /// Prepares the <paramref name="nb"/> activation blocks of the row <paramref name="a"/> for <paramref name="type"/>'s
    /// product (<see cref="PreparedIntsPerBlock(GgmlType, bool)"/> ints per block): for Q8_0 activations d_a as float32
    /// bits, then 8·Σ of the block's 32 quants; for Q4_K's Q8_K activations the 8 sums of 32 values (each the sum of two
    /// of the block's 16-value sums, at most 32·128 in magnitude) as int16 pairs, and on the 512-bit path (<paramref name="wide"/>)
    /// after them the block's quants with each 64 of them (sub-blocks 2p and 2p + 1) interleaved in 4-byte groups, so
    /// that 8 consecutive bytes hold 4 values of each of the two sub-blocks; for Q6_K on the 512-bit path the block's
    /// quants plus 128 (a ^ 0x80: unsigned bytes, so that the signed weights can take the other side of <c>vpmaddubsw</c>).
    /// </summary>
    public static void Prepare(GgmlType type, byte* a, int nb, int* prepared, bool wide)
    {
        if (wide && !WideSupported) throw new NotSupportedException("the 512-bit panel products need AVX-512 BW");
        switch (type)
        {
            case GgmlType.Q4_0 or GgmlType.Q8_0: PrepareQ8_0(a, nb, prepared); break;
            case GgmlType.Q4_K when wide: PrepareQ8_KWide(a, nb, prepared); break;
            case GgmlType.Q4_K: PrepareQ8_K(a, nb, prepared); break;
            case GgmlType.Q6_K when wide: PrepareQ6_KWide(a, nb, prepared); break;
            default: throw new NotSupportedException($"no prepared activations for {GgmlTypeTraits.Name(type)}");
        }
    }

    private static void PrepareQ6_KWide(byte* a, int nb, int* prepared)
    {
        var offset = Vector512.Create((byte)0x80);
        for (int b = 0; b < nb; b++, a += 292, prepared += PreparedIntsQ6_KWide)
        {
            for (int i = 0; i < 256; i += 64) (Vector512.Load(a + 4 + i) ^ offset).Store((byte*)prepared + i);
        }
    }

    private static void PrepareQ8_KWide(byte* a, int nb, int* prepared)
    {
        var order = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        for (int b = 0; b < nb; b++, a += 292, prepared += PreparedIntsQ8_KWide)
        {
            PrepareQ8_K(a, 1, prepared);
            int* q = prepared + PreparedIntsQ8_K;
            for (int p = 0; p < 4; p++) Avx512F.PermuteVar16x32(Vector512.Load((int*)(a + 4 + (64 * p))), order).Store(q + (16 * p));
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
    /// of 8 rows × 8 bytes (Q4_K: the 256-bit panel re-ordered, 4 values of each of two sub-blocks per row; Q6_K: packed
    /// in its own layout, 8 consecutive values per row); Q4_0 and Q8_0 panels are the same on both paths. The 512-bit
    /// Q4_K and Q6_K products read the activations prepared for them (<see cref="Prepare(GgmlType, byte*, int, int*, bool)"/>).
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
            case GgmlType.Q6_K when wide: Q6_KPanel.Pack512(w, rowBytes, count, nb, panel); break;
            case GgmlType.Q6_K: Pack<Q6_KPanel>(w, rowBytes, count, nb, panel); break;
            default: throw new NotSupportedException($"no panel kernel for {GgmlTypeTraits.Name(type)}");
        }

        if (wide && type == GgmlType.Q4_K) Q4_KPanel.Interleave512(nb, panel);
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
    /// <paramref name="prepared"/> their <see cref="Prepare(GgmlType, byte*, int, int*)"/> data (<paramref name="preparedRow"/> ints apart; Q8_0 activations only).
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
        int step = TP.Bytes, aStep = TP.ActivationBlockBytes, pStep = TW.Is512 ? TP.PreparedInts512 : TP.PreparedInts;
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

        /// <summary>Ints of prepared data the 256-bit product reads per activation block (0: none).</summary>
        static abstract int PreparedInts { get; }

        /// <summary>Ints of prepared data the 512-bit product reads per activation block (0: none).</summary>
        static abstract int PreparedInts512 { get; }

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

        public static int PreparedInts512 => QuantPanelGemm.PreparedInts;


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

        public static int PreparedInts512 => QuantPanelGemm.PreparedInts;


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
    /// 32-value sums (<see cref="Prepare(GgmlType, byte*, int, int*)"/>) the same way: d·d_a·Σ scale·(q·a) − dmin·d_a·Σ min·bsum per row, as
    /// <see cref="QuantRowDot.Q4_K{T}"/>.
    /// </summary>
    private readonly struct Q4_KPanel : IPanel
    {
        public static int Bytes => QsAt + 2048;

        public static int WeightBlockBytes => 144;

        public static int ActivationBlockBytes => 292;

        public static int PreparedInts => PreparedIntsQ8_K;

        public static int PreparedInts512 => PreparedIntsQ8_KWide;

        /// <summary>Offset of the minimums' vectors.</summary>
        private const int MinsAt = 64 + 256;

        /// <summary>Offset of the packed nibbles.</summary>
        private const int QsAt = MinsAt + 128;


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
        /// Re-orders packed blocks (256-bit layout) for <see cref="Block512{TM}"/>: each 64-byte vector of sub-block pair p
        /// (p = 0..3) and position t (0..7) holds, for each row r, values 4t..4t + 3 of sub-block 2p (bytes 8r..8r + 3) and
        /// of sub-block 2p + 1 (bytes 8r + 4..8r + 7); the scale vectors of sub-blocks 2p and 2p + 1 become one whose
        /// int32 lanes 2r and 2r + 1 hold row r's scale pair of 2p and of 2p + 1, and the minimum vectors of sub-blocks
        /// 0..3 and 4..7 one each whose lanes 2r and 2r + 1 hold row r's minimums 4h, 4h + 1 and 4h + 2, 4h + 3.
        /// </summary>
        public static void Interleave512(int nb, byte* panel)
        {
            var order = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
            var low = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var high = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            for (int b = 0; b < nb; b++, panel += Bytes)
            {
                // Scales (8 vectors) and minimums (4 vectors) lie together: each adjacent pair interleaved by int32 lane.
                for (int i = 64; i < QsAt; i += 64) Avx512F.PermuteVar16x32(Vector512.Load((int*)(panel + i)), order).Store((int*)(panel + i));

                // Values: the 256-bit vectors 16p + t and 16p + 8 + t (t = 2u: low halves of the 64-byte pieces u and
                // 4 + u of the pair's 512 bytes; t = 2u + 1: their high halves) interleaved by int32 lane.
                for (int p = 0; p < 4; p++)
                {
                    int* v = (int*)(panel + QsAt + (512 * p));
                    var z0 = Vector512.Load(v);
                    var z1 = Vector512.Load(v + 16);
                    var z2 = Vector512.Load(v + 32);
                    var z3 = Vector512.Load(v + 48);
                    var z4 = Vector512.Load(v + 64);
                    var z5 = Vector512.Load(v + 80);
                    var z6 = Vector512.Load(v + 96);
                    var z7 = Vector512.Load(v + 112);
                    Avx512F.PermuteVar16x32x2(z0, low, z4).Store(v);
                    Avx512F.PermuteVar16x32x2(z0, high, z4).Store(v + 16);
                    Avx512F.PermuteVar16x32x2(z1, low, z5).Store(v + 32);
                    Avx512F.PermuteVar16x32x2(z1, high, z5).Store(v + 48);
                    Avx512F.PermuteVar16x32x2(z2, low, z6).Store(v + 64);
                    Avx512F.PermuteVar16x32x2(z2, high, z6).Store(v + 80);
                    Avx512F.PermuteVar16x32x2(z3, low, z7).Store(v + 96);
                    Avx512F.PermuteVar16x32x2(z3, high, z7).Store(v + 112);
                }
            }
        }

        /// <summary>The 16-bit sums of one position's products (8 rows × 4 values of each of two sub-blocks) with the 8 re-ordered activations at x0..x3, added to l0..l3.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Step<TM>(
            Vector512<byte> u, byte* x0, byte* x1, byte* x2, byte* x3,
            ref Vector512<short> l0, ref Vector512<short> l1, ref Vector512<short> l2, ref Vector512<short> l3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            l0 += Mul512(u, x0);
            if (n > 1) l1 += Mul512(u, x1);
            if (n > 2) l2 += Mul512(u, x2);
            if (n > 3) l3 += Mul512(u, x3);
        }

        /// <summary>
        /// Adds scale·Σ q·a of the sub-block pair whose 8 vectors start at <paramref name="q"/> (activations: 64 re-ordered
        /// bytes per row at x0..x3) to the rows' sums: 8 products per pair, each 16-bit lane summing 8·2·15·128 = 30720
        /// at most, then one widening <c>vpmaddwd</c> by the pair's scales (lane pairs 4r, 4r + 1: sub-block 2p; 4r + 2,
        /// 4r + 3: sub-block 2p + 1).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Pair<TM>(
            byte* q, Vector512<short> scales, byte* x0, byte* x1, byte* x2, byte* x3,
            ref Vector512<int> s0, ref Vector512<int> s1, ref Vector512<int> s2, ref Vector512<int> s3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            var u = Vector512.Load(q);
            var l0 = Mul512(u, x0);
            var l1 = n > 1 ? Mul512(u, x1) : default;
            var l2 = n > 2 ? Mul512(u, x2) : default;
            var l3 = n > 3 ? Mul512(u, x3) : default;
            Step<TM>(Vector512.Load(q + 64), x0 + 8, x1 + 8, x2 + 8, x3 + 8, ref l0, ref l1, ref l2, ref l3);
            Step<TM>(Vector512.Load(q + 128), x0 + 16, x1 + 16, x2 + 16, x3 + 16, ref l0, ref l1, ref l2, ref l3);
            Step<TM>(Vector512.Load(q + 192), x0 + 24, x1 + 24, x2 + 24, x3 + 24, ref l0, ref l1, ref l2, ref l3);
            Step<TM>(Vector512.Load(q + 256), x0 + 32, x1 + 32, x2 + 32, x3 + 32, ref l0, ref l1, ref l2, ref l3);
            Step<TM>(Vector512.Load(q + 320), x0 + 40, x1 + 40, x2 + 40, x3 + 40, ref l0, ref l1, ref l2, ref l3);
            Step<TM>(Vector512.Load(q + 384), x0 + 48, x1 + 48, x2 + 48, x3 + 48, ref l0, ref l1, ref l2, ref l3);
            Step<TM>(Vector512.Load(q + 448), x0 + 56, x1 + 56, x2 + 56, x3 + 56, ref l0, ref l1, ref l2, ref l3);
            s0 += Avx512BW.MultiplyAddAdjacent(l0, scales);
            if (n > 1) s1 += Avx512BW.MultiplyAddAdjacent(l1, scales);
            if (n > 2) s2 += Avx512BW.MultiplyAddAdjacent(l2, scales);
            if (n > 3) s3 += Avx512BW.MultiplyAddAdjacent(l3, scales);
        }

        /// <summary>
        /// acc + d·d_a·S − dmin·d_a·M for the 8 rows, in that order: S from the 16 lanes of <paramref name="sums"/> (row r:
        /// lanes 2r, 2r + 1), M = Σ min·bsum from the widened minimums and the prepared sums; the two folded together
        /// (lanes 0..7: S, 8..15: M) and converted, scaled and added as the 256-bit path does.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Finish512(Vector512<int> sums, Vector512<short> mins0, Vector512<short> mins1, int* prepared, byte* a, byte* packed, Vector256<float> acc)
        {
            var m = Avx512BW.MultiplyAddAdjacent(mins0, Vector512.Create(*(long*)prepared).AsInt16())
                + Avx512BW.MultiplyAddAdjacent(mins1, Vector512.Create(*(long*)(prepared + 2)).AsInt16());
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            var f = Avx512F.ConvertToVector512Single(Avx512F.PermuteVar16x32x2(sums, even, m) + Avx512F.PermuteVar16x32x2(sums, odd, m));
            var dd = Vector512.Load((float*)packed) * Vector512.Create(*(float*)a);
            acc = Fma.MultiplyAdd(f.GetLower(), dd.GetLower(), acc);
            return Fma.MultiplyAddNegated(f.GetUpper(), dd.GetUpper(), acc);
        }

        /// <summary>
        /// As <see cref="Block{TM}"/> on a block re-ordered by <see cref="Interleave512"/>, with the activations' quants read from
        /// their prepared copy (<see cref="PreparedIntsQ8_KWide"/>): sub-blocks in pairs, one <c>vpmaddwd</c> per pair and
        /// row, the minimums' products on 64 bytes.
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
            byte* x0 = (byte*)(p0 + PreparedIntsQ8_K), x1 = (byte*)(p1 + PreparedIntsQ8_K), x2 = (byte*)(p2 + PreparedIntsQ8_K), x3 = (byte*)(p3 + PreparedIntsQ8_K);
            for (int p = 0; p < 4; p++)
            {
                int o = 64 * p;
                Pair<TM>(q + (512 * p), Vector512.Load(scales + (32 * p)), x0 + o, x1 + o, x2 + o, x3 + o, ref s0, ref s1, ref s2, ref s3);
            }

            var mins0 = Vector512.Load((short*)(packed + MinsAt));
            var mins1 = Vector512.Load((short*)(packed + MinsAt + 64));
            c0 = Finish512(s0, mins0, mins1, p0, a0, packed, c0);
            if (n > 1) c1 = Finish512(s1, mins0, mins1, p1, a1, packed, c1);
            if (n > 2) c2 = Finish512(s2, mins0, mins1, p2, a2, packed, c2);
            if (n > 3) c3 = Finish512(s3, mins0, mins1, p3, a3, packed, c3);
        }
    }

    /// <summary>
    /// Q6_K (Q8_K activations): 8 float32 d, 16 vectors of the rows' int8 scales of each 16 values (lanes 2r, 2r + 1: row
    /// r), 8 vectors of the scales of the 16-value groups 2t and 2t + 1 (lanes 2r and 2r + 1), then 64 vectors of the
    /// 6-bit values unpacked to bytes (vector c: values 4c..4c+3 of each row). Two products of 6-bit values with the
    /// activations fit 16 bits (2·2·63·128 = 32256), so each 16-value group is two <c>pmaddubsw</c> pairs widened by its
    /// scales; the offset of 32 subtracts 32·Σ scale·bsum: d·d_a·(Σ scale·(q·a) − 32·Σ scale·bsum), as <see cref="QuantRowDot.Q6_K{T}"/>.
    /// The 512-bit layout (<see cref="Pack512"/>) is another, a little larger; <see cref="Bytes"/> fits both.
    /// </summary>
    private readonly struct Q6_KPanel : IPanel
    {
        /// <summary>Bytes of a block in the 512-bit layout, the larger one: d, the corrections, the spread scales, the values.</summary>
        public static int Bytes => WideValuesAt + 2048;

        /// <summary>Offset of the spread scales in the 512-bit layout (after d and the offset corrections).</summary>
        private const int WideScalesAt = 64;

        /// <summary>Offset of the values in the 512-bit layout.</summary>
        private const int WideValuesAt = WideScalesAt + 1024;

        public static int WeightBlockBytes => 210;

        public static int ActivationBlockBytes => 292;

        public static int PreparedInts => 0;

        public static int PreparedInts512 => PreparedIntsQ6_KWide;


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

        /// <summary>
        /// Packs <paramref name="count"/> (1..8) rows for <see cref="Block512{TM}"/>, per block: the 8 rows' d as float32,
        /// the 8 rows' corrections 128·Σ_k scale_k·Σ (q − 32) over the block as int32, 16 vectors of the 16-value groups'
        /// scales spread to each row's 4 int16 lanes (lanes 4r..4r + 3: row r), then 32 vectors of 8 rows × 8 consecutive
        /// values as signed bytes q − 32 (bytes 8r..8r + 7 of vector c: row r's values 8c..8c + 7). Missing rows are zero.
        /// </summary>
        public static void Pack512(byte* w, int rowBytes, int count, int nb, byte* panel)
        {
            for (int b = 0; b < nb; b++, panel += Bytes)
            {
                for (int r = 0; r < PanelRows; r++) PackRow512(r < count ? w + ((long)r * rowBytes) + ((long)b * 210) : null, r, panel);
            }
        }

        private static void PackRow512(byte* block, int r, byte* packed)
        {
            ulong* scales = (ulong*)(packed + WideScalesAt);
            ulong* q = (ulong*)(packed + WideValuesAt);
            if (block == null)
            {
                ((float*)packed)[r] = 0;
                ((int*)packed)[8 + r] = 0;
                for (int k = 0; k < 16; k++) scales[(8 * k) + r] = 0;
                for (int c = 0; c < 32; c++) q[(8 * c) + r] = 0;
                return;
            }

            ((float*)packed)[r] = QuantRowDot.Half(QuantRowDot.HalfTablePointer, block + 208);
            sbyte* sc = (sbyte*)block + 192;
            for (int k = 0; k < 16; k++) scales[(8 * k) + r] = (ushort)sc[k] * 0x0001000100010001UL;

            var m4 = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x03);
            var m32 = Vector256.Create((byte)32);
            ulong* v = stackalloc ulong[16];
            int correction = 0;
            for (int h = 0; h < 2; h++)
            {
                var ql0 = Vector256.Load(block + (64 * h));
                var ql1 = Vector256.Load(block + (64 * h) + 32);
                var qh = Vector256.Load(block + 128 + (32 * h));

                // Values 128h + 32i.. (i = 0..3), unsigned 0..63; their 8-byte sums give the 16-value groups' sums.
                Span<Vector256<byte>> quads =
                [
                    (ql0 & m4) | Vector256.ShiftLeft(qh & m2, 4),
                    (ql1 & m4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2) & m2, 4),
                    Vector256.ShiftRightLogical(ql0, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 4) & m2, 4),
                    Vector256.ShiftRightLogical(ql1, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 6), 4),
                ];
                for (int i = 0; i < 4; i++)
                {
                    var sums = Avx2.SumAbsoluteDifferences(quads[i], Vector256<byte>.Zero).AsInt64();
                    int g = (8 * h) + (2 * i);
                    correction += sc[g] * ((int)(sums.GetElement(0) + sums.GetElement(1)) - (16 * 32));
                    correction += sc[g + 1] * ((int)(sums.GetElement(2) + sums.GetElement(3)) - (16 * 32));
                    (quads[i] - m32).Store((byte*)(v + (4 * i)));
                }

                for (int c = 0; c < 16; c++) q[(8 * ((16 * h) + c)) + r] = v[c];
            }

            ((int*)packed)[8 + r] = correction << 7;
        }

        /// <summary>
        /// As <see cref="Block{TM}"/> on a block packed by <see cref="Pack512"/>, with the activations plus 128 from their
        /// prepared copy (<see cref="PreparedIntsQ6_KWide"/>): per 16-value group two products of the unsigned activations
        /// with the signed q − 32 (each 16-bit lane at most 2·2·255·32 = 32640 in magnitude) widened by the spread scales;
        /// the block's sum Σ scale·(a + 128)·(q − 32) less the packed 128·Σ scale·(q − 32) is Σ scale·(q − 32)·a exactly.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Block512<TM>(
            byte* packed, byte* a0, byte* a1, byte* a2, byte* a3, int* p0, int* p1, int* p2, int* p3,
            ref Vector256<float> c0, ref Vector256<float> c1, ref Vector256<float> c2, ref Vector256<float> c3)
            where TM : struct, IRowCount
        {
            int n = TM.Count;
            Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
            byte* x0 = (byte*)p0, x1 = (byte*)p1, x2 = (byte*)p2, x3 = (byte*)p3;
            byte* q = packed + WideValuesAt;
            short* scales = (short*)(packed + WideScalesAt);
            for (int k = 0; k < 16; k++)
            {
                var u0 = Vector512.Load((sbyte*)q + (128 * k));
                var u1 = Vector512.Load((sbyte*)q + (128 * k) + 64);
                var sc = Vector512.Load(scales + (32 * k));
                int o = 16 * k;
                s0 = Group512(s0, u0, u1, sc, x0 + o);
                if (n > 1) s1 = Group512(s1, u0, u1, sc, x1 + o);
                if (n > 2) s2 = Group512(s2, u0, u1, sc, x2 + o);
                if (n > 3) s3 = Group512(s3, u0, u1, sc, x3 + o);
            }

            var d = Vector256.Load((float*)packed);
            var corrections = Vector256.Load((int*)packed + 8);
            c0 = Finish512(s0, corrections, a0, d, c0);
            if (n > 1) c1 = Finish512(s1, corrections, a1, d, c1);
            if (n > 2) c2 = Finish512(s2, corrections, a2, d, c2);
            if (n > 3) c3 = Finish512(s3, corrections, a3, d, c3);
        }

        /// <summary>Σ scale·(a + 128)·(q − 32) of one 16-value group: the unsigned activations at <paramref name="x"/> (8 and 8, broadcast) times the signed values, summed in 16 bits and widened by the scales.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Group512(Vector512<int> s, Vector512<sbyte> u0, Vector512<sbyte> u1, Vector512<short> sc, byte* x)
        {
            var p = Avx512BW.MultiplyAddAdjacent(Broadcast8(x).AsByte(), u0) + Avx512BW.MultiplyAddAdjacent(Broadcast8(x + 8).AsByte(), u1);
            return s + Avx512BW.MultiplyAddAdjacent(p, sc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Finish512(Vector512<int> sums, Vector256<int> corrections, byte* a, Vector256<float> d, Vector256<float> acc)
            => Fma.MultiplyAdd(Avx.ConvertToVector256Single(Fold(sums) - corrections), d * Vector256.Create(*(float*)a), acc);
    }
}
