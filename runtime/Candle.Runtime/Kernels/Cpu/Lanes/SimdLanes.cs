using System.Runtime.CompilerServices;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// float32 lanes of one width (<typeparamref name="TLanes"/>) for generated elementwise kernels: loads and stores
/// of f32, f16, bf16 and bool with f32 compute, strided gathers, and the roundings that model a narrower dtype.
/// Written once over <see cref="ILanes{TVec}"/>; generated IL calls these on the constructed type (for instance
/// <c>SimdLanes&lt;Lanes256, Vector256&lt;float&gt;&gt;</c>) and the JIT specializes them. f16 and bf16 stores round to
/// nearest even (bf16 keeps NaN quiet); bools load as 0/1 and store nonzero as true. The math itself lives in the
/// operator structs of <c>Candle.Runtime.Kernels.Cpu.Ops</c>.
/// </summary>
/// <typeparam name="TLanes">The width trait.</typeparam>
/// <typeparam name="TVec">Its vector type.</typeparam>
public static unsafe class SimdLanes<TLanes, TVec>
    where TLanes : ILanes<TVec>
    where TVec : unmanaged
{
    /// <summary>Number of lanes.</summary>
    public static int Count => TLanes.Count;

    /// <summary>Loads f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LoadF32(byte* p) => TLanes.Load((float*)p);

    /// <summary>Stores f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF32(TVec v, byte* p) => TLanes.Store(v, (float*)p);

    /// <summary>Loads bf16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LoadBF16(byte* p) => TLanes.ShiftLeftBits(TLanes.LoadWidenU16((ushort*)p), 16);

    /// <summary>Stores f32 lanes as bf16 (round to nearest even, NaN kept quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBF16(TVec v, byte* p) => TLanes.StoreNarrowU16(Bf16Bits(v), (ushort*)p);

    /// <summary>Loads f16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LoadF16(byte* p) => HalfToSingle(TLanes.LoadWidenU16((ushort*)p));

    /// <summary>Stores f32 lanes as f16 (round to nearest even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(TVec v, byte* p) => TLanes.StoreNarrowU16(SingleToHalf(v), (ushort*)p);

    /// <summary>Loads bool lanes as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LoadBool(byte* p)
    {
        Unsafe.SkipInit(out TVec r);
        float* t = (float*)&r;
        for (int k = 0; k < TLanes.Count; k++) t[k] = p[k] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>Stores lanes as bools (nonzero is true).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBool(TVec v, byte* p)
    {
        float* t = (float*)&v;
        for (int k = 0; k < TLanes.Count; k++) p[k] = t[k] != 0 ? (byte)1 : (byte)0;
    }

    /// <summary>Gathers f32 lanes at a stride (in elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec GatherF32(byte* p, long stride)
    {
        Unsafe.SkipInit(out TVec r);
        float* t = (float*)&r;
        for (int k = 0; k < TLanes.Count; k++) t[k] = ((float*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers f16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec GatherF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out TVec r);
        float* t = (float*)&r;
        for (int k = 0; k < TLanes.Count; k++) t[k] = (float)((Half*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers bf16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec GatherBF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out TVec r);
        float* t = (float*)&r;
        for (int k = 0; k < TLanes.Count; k++) t[k] = BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[k * stride] << 16);
        return r;
    }

    /// <summary>Gathers bool lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec GatherBool(byte* p, long stride)
    {
        Unsafe.SkipInit(out TVec r);
        float* t = (float*)&r;
        for (int k = 0; k < TLanes.Count; k++) t[k] = p[k * stride] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>All lanes equal to <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Splat(float x) => TLanes.Splat(x);

    /// <summary>1 where x is nonzero (NaN included), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec ToBool(TVec x) => TLanes.And(TLanes.Not(TLanes.Equal(x, TLanes.Splat(0f))), TLanes.Splat(1f));

    /// <summary>Rounds to the nearest f16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec RoundF16(TVec x) => HalfToSingle(SingleToHalf(x));

    /// <summary>Rounds to the nearest bf16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec RoundBF16(TVec x) => TLanes.ShiftLeftBits(Bf16Bits(x), 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Bf16Bits(TVec v)
    {
        var rounded = TLanes.ShiftRightBits(
            TLanes.AddBits(TLanes.AddBits(v, TLanes.SplatBits(0x7FFFu)), TLanes.And(TLanes.ShiftRightBits(v, 16), TLanes.SplatBits(1u))), 16);
        var nan = TLanes.GreaterThanBits(TLanes.And(v, TLanes.SplatBits(0x7FFF_FFFFu)), TLanes.SplatBits(0x7F80_0000u));
        return TLanes.Select(nan, TLanes.Or(TLanes.ShiftRightBits(v, 16), TLanes.SplatBits(0x40u)), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec HalfToSingle(TVec h)
    {
        var shiftedExp = TLanes.SplatBits(0x7C00u << 13);
        var o = TLanes.ShiftLeftBits(TLanes.And(h, TLanes.SplatBits(0x7FFFu)), 13);
        var exp = TLanes.And(o, shiftedExp);
        o = TLanes.AddBits(o, TLanes.SplatBits((127u - 15u) << 23));
        var infNan = TLanes.EqualBits(exp, shiftedExp);
        var denorm = TLanes.EqualBits(exp, TLanes.SplatBits(0u));
        o = TLanes.Select(infNan, TLanes.AddBits(o, TLanes.SplatBits((128u - 16u) << 23)), o);
        var dn = TLanes.Sub(TLanes.AddBits(o, TLanes.SplatBits(1u << 23)), TLanes.SplatBits(113u << 23));
        o = TLanes.Select(denorm, dn, o);
        return TLanes.Or(o, TLanes.ShiftLeftBits(TLanes.And(h, TLanes.SplatBits(0x8000u)), 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec SingleToHalf(TVec v)
    {
        var sign = TLanes.And(v, TLanes.SplatBits(0x8000_0000u));
        var f = TLanes.Xor(v, sign);
        var f32Inf = TLanes.SplatBits(255u << 23);
        var f16Max = TLanes.SplatBits((127u + 16u) << 23);
        var denormMagic = TLanes.SplatBits(((127u - 15u) + (23u - 10u) + 1u) << 23);
        var big = TLanes.Not(TLanes.LessThanBits(f, f16Max));
        var bigVal = TLanes.Select(TLanes.GreaterThanBits(f, f32Inf), TLanes.SplatBits(0x7E00u), TLanes.SplatBits(0x7C00u));
        var small = TLanes.LessThanBits(f, TLanes.SplatBits(113u << 23));
        var smallVal = TLanes.SubBits(TLanes.Add(f, denormMagic), denormMagic);
        var mantOdd = TLanes.And(TLanes.ShiftRightBits(f, 13), TLanes.SplatBits(1u));
        var normVal = TLanes.ShiftRightBits(TLanes.AddBits(TLanes.AddBits(f, TLanes.SplatBits(unchecked((uint)((15 - 127) << 23)) + 0xFFFu)), mantOdd), 13);
        var o = TLanes.Select(big, bigVal, TLanes.Select(small, smallVal, normVal));
        return TLanes.Or(o, TLanes.ShiftRightBits(sign, 16));
    }

    /// <summary>c ? a : b lane by lane (c is 0/1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Where(TVec c, TVec a, TVec b) => TLanes.Select(TLanes.Not(TLanes.Equal(c, TLanes.Splat(0f))), a, b);
}
