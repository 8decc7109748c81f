using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// 128-bit float32 lanes for generated elementwise kernels: loads and stores of f32, f16, bf16 and bool (with
/// f32 compute), strided gathers, arithmetic and vectorized approximations. Generated IL calls these by name;
/// all are aggressively inlined. Accuracy: exp, log, sin and cos are .NET's vector versions (about 1 ulp);
/// tanh has relative error below 5e-7; erf absolute error below 2e-7 (Abramowitz–Stegun 7.1.26 above |x| = 0.5,
/// Taylor series below); gelu, gelu_tanh, sigmoid and silu inherit from exp, erf and tanh. Bools are 0 or 1.
/// </summary>
public static unsafe class SimdLanes128
{
    /// <summary>Number of lanes.</summary>
    public static int Count => Vector128<float>.Count;

    /// <summary>Loads f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadF32(byte* p) => Vector128.Load((float*)p);

    /// <summary>Stores f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF32(Vector128<float> v, byte* p) => v.Store((float*)p);

    /// <summary>Loads bf16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadBF16(byte* p)
    {
        var h = Vector64.Load((ushort*)p);
        var w = Vector128.Create(Vector64.WidenLower(h), Vector64.WidenUpper(h));
        return (w << 16).AsSingle();
    }

    /// <summary>Stores f32 lanes as bf16 (round to nearest even, NaN kept quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBF16(Vector128<float> v, byte* p)
    {
        var b = Bf16Bits(v);
        Vector64.Narrow(b.GetLower(), b.GetUpper()).Store((ushort*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Bf16Bits(Vector128<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >> 16) & Vector128<uint>.One)) >> 16;
        var nan = Vector128.GreaterThan(bits & Vector128.Create(0x7FFF_FFFFu), Vector128.Create(0x7F80_0000u));
        return Vector128.ConditionalSelect(nan, (bits >> 16) | Vector128.Create(0x40u), rounded);
    }

    /// <summary>Loads f16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadF16(byte* p)
    {
        var h = Vector64.Load((ushort*)p);
        return HalfToSingle(Vector128.Create(Vector64.WidenLower(h), Vector64.WidenUpper(h)));
    }

    /// <summary>Stores f32 lanes as f16 (round to nearest even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(Vector128<float> v, byte* p)
    {
        var b = SingleToHalf(v);
        Vector64.Narrow(b.GetLower(), b.GetUpper()).Store((ushort*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> HalfToSingle(Vector128<uint> h)
    {
        var shiftedExp = Vector128.Create(0x7C00u << 13);
        var o = (h & Vector128.Create(0x7FFFu)) << 13;
        var exp = o & shiftedExp;
        o += Vector128.Create((127u - 15u) << 23);
        var infNan = Vector128.Equals(exp, shiftedExp);
        var denorm = Vector128.Equals(exp, Vector128<uint>.Zero);
        o = Vector128.ConditionalSelect(infNan, o + Vector128.Create((128u - 16u) << 23), o);
        var dn = ((o + Vector128.Create(1u << 23)).AsSingle() - Vector128.Create(113u << 23).AsSingle()).AsUInt32();
        o = Vector128.ConditionalSelect(denorm, dn, o);
        return (o | ((h & Vector128.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> SingleToHalf(Vector128<float> v)
    {
        var f = v.AsUInt32();
        var sign = f & Vector128.Create(0x8000_0000u);
        f ^= sign;
        var f32Inf = Vector128.Create(255u << 23);
        var f16Max = Vector128.Create((127u + 16u) << 23);
        var denormMagic = Vector128.Create(((127u - 15u) + (23u - 10u) + 1u) << 23);
        var big = Vector128.GreaterThanOrEqual(f, f16Max);
        var bigVal = Vector128.ConditionalSelect(Vector128.GreaterThan(f, f32Inf), Vector128.Create(0x7E00u), Vector128.Create(0x7C00u));
        var small = Vector128.LessThan(f, Vector128.Create(113u << 23));
        var smallVal = (f.AsSingle() + denormMagic.AsSingle()).AsUInt32() - denormMagic;
        var mantOdd = (f >> 13) & Vector128<uint>.One;
        var normVal = (f + Vector128.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFFu) + mantOdd) >> 13;
        var o = Vector128.ConditionalSelect(big, bigVal, Vector128.ConditionalSelect(small, smallVal, normVal));
        return o | (sign >> 16);
    }

    /// <summary>Loads bool lanes as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadBool(byte* p)
    {
        Unsafe.SkipInit(out Vector128<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector128<float>.Count; k++) t[k] = p[k] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>Stores lanes as bools (nonzero is true).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBool(Vector128<float> v, byte* p)
    {
        float* t = (float*)&v;
        for (int k = 0; k < Vector128<float>.Count; k++) p[k] = t[k] != 0 ? (byte)1 : (byte)0;
    }

    /// <summary>Gathers f32 lanes at a stride (in elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GatherF32(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector128<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector128<float>.Count; k++) t[k] = ((float*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers f16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GatherF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector128<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector128<float>.Count; k++) t[k] = (float)((Half*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers bf16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GatherBF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector128<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector128<float>.Count; k++) t[k] = BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[k * stride] << 16);
        return r;
    }

    /// <summary>Gathers bool lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GatherBool(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector128<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector128<float>.Count; k++) t[k] = p[k * stride] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>All lanes equal to <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Splat(float x) => Vector128.Create(x);

    /// <summary>a + b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    /// <summary>a − b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;

    /// <summary>a · b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;

    /// <summary>a / b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;

    /// <summary>a·b + c, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

    /// <summary>−x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Neg(Vector128<float> x) => -x;

    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Abs(Vector128<float> x) => Vector128.Abs(x);

    /// <summary>e^x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x) => Vector128.Exp(x);

    /// <summary>ln x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Log(Vector128<float> x) => Vector128.Log(x);

    /// <summary>√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sqrt(Vector128<float> x) => Vector128.Sqrt(x);

    /// <summary>1/√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Rsqrt(Vector128<float> x) => Vector128<float>.One / Vector128.Sqrt(x);

    /// <summary>sin x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sin(Vector128<float> x) => Vector128.Sin(x);

    /// <summary>cos x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Cos(Vector128<float> x) => Vector128.Cos(x);

    /// <summary>tanh x: an odd Taylor polynomial below |x| = 0.1, else (1 − e^(−2|x|))/(1 + e^(−2|x|)) with x's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        var ax = Vector128.Abs(x);
        var t = Vector128.Exp(Vector128.Create(-2f) * ax);
        var big = (Vector128<float>.One - t) / (Vector128<float>.One + t);
        big = Vector128.CopySign(big, x);
        var x2 = x * x;
        var poly = Vector128.FusedMultiplyAdd(x2, Vector128.Create(-17f / 315f), Vector128.Create(2f / 15f));
        poly = Vector128.FusedMultiplyAdd(x2, poly, Vector128.Create(-1f / 3f));
        var small = Vector128.FusedMultiplyAdd(x * x2, poly, x);
        var r = Vector128.ConditionalSelect(Vector128.LessThan(ax, Vector128.Create(0.1f)), small, big);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), r, x);
    }

    /// <summary>erf x (see the class remarks for the error bound).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Erf(Vector128<float> x)
    {
        var ax = Vector128.Abs(x);
        var t = Vector128<float>.One / Vector128.FusedMultiplyAdd(Vector128.Create(0.3275911f), ax, Vector128<float>.One);
        var p = Vector128.FusedMultiplyAdd(t, Vector128.Create(1.061405429f), Vector128.Create(-1.453152027f));
        p = Vector128.FusedMultiplyAdd(t, p, Vector128.Create(1.421413741f));
        p = Vector128.FusedMultiplyAdd(t, p, Vector128.Create(-0.284496736f));
        p = Vector128.FusedMultiplyAdd(t, p, Vector128.Create(0.254829592f));
        p *= t;
        var big = Vector128<float>.One - (p * Vector128.Exp(-(ax * ax)));
        big = Vector128.CopySign(big, x);
        var x2 = x * x;
        var s = Vector128.FusedMultiplyAdd(x2, Vector128.Create(-1f / 1320f), Vector128.Create(1f / 216f));
        s = Vector128.FusedMultiplyAdd(x2, s, Vector128.Create(-1f / 42f));
        s = Vector128.FusedMultiplyAdd(x2, s, Vector128.Create(1f / 10f));
        s = Vector128.FusedMultiplyAdd(x2, s, Vector128.Create(-1f / 3f));
        s = Vector128.FusedMultiplyAdd(x2, s, Vector128<float>.One);
        var small = x * s * Vector128.Create(1.1283791670955126f);
        var r = Vector128.ConditionalSelect(Vector128.LessThan(ax, Vector128.Create(0.5f)), small, big);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), r, x);
    }

    /// <summary>1/(1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Vector128.Exp(-x));

    /// <summary>max(x, 0), NaN kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Relu(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), Vector128<float>.Zero, x);

    /// <summary>0.5·x·(1 + erf(x/√2)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Gelu(Vector128<float> x) => Vector128.Create(0.5f) * x * (Vector128<float>.One + Erf(x * Vector128.Create(0.70710677f)));

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GeluTanh(Vector128<float> x)
    {
        var inner = Vector128.Create(0.7978846f) * Vector128.FusedMultiplyAdd(Vector128.Create(0.044715f) * x * x, x, x);
        return Vector128.Create(0.5f) * x * (Vector128<float>.One + Tanh(inner));
    }

    /// <summary>x·sigmoid(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Silu(Vector128<float> x) => x / (Vector128<float>.One + Vector128.Exp(-x));

    /// <summary>floor x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Floor(Vector128<float> x) => Vector128.Floor(x);

    /// <summary>ceil x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Ceil(Vector128<float> x) => Vector128.Ceiling(x);

    /// <summary>Round half to even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Round(Vector128<float> x) => Vector128.Round(x);

    /// <summary>−1, 0 or 1 (NaN kept).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sign(Vector128<float> x)
    {
        var r = Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), Vector128<float>.One, Vector128<float>.Zero);
        r = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), Vector128.Create(-1f), r);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), r, x);
    }

    /// <summary>1/x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Reciprocal(Vector128<float> x) => Vector128<float>.One / x;

    /// <summary>1 where x is 0, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LogicalNot(Vector128<float> x) => Bool(Vector128.Equals(x, Vector128<float>.Zero));

    /// <summary>1 where x is nonzero (NaN included), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToBool(Vector128<float> x) => Bool(~Vector128.Equals(x, Vector128<float>.Zero));

    /// <summary>Rounds to the nearest f16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> RoundF16(Vector128<float> x) => HalfToSingle(SingleToHalf(x));

    /// <summary>Rounds to the nearest bf16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> RoundBF16(Vector128<float> x) => (Bf16Bits(x) << 16).AsSingle();

    /// <summary>floor(a / b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> FloorDiv(Vector128<float> a, Vector128<float> b) => Vector128.Floor(a / b);

    /// <summary>a − b·floor(a/b) with the divisor's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Remainder(Vector128<float> a, Vector128<float> b)
    {
        var r = a - (b * Vector128.Truncate(a / b));
        var fix = ~Vector128.Equals(r, Vector128<float>.Zero) & (Vector128.LessThan(r, Vector128<float>.Zero) ^ Vector128.LessThan(b, Vector128<float>.Zero));
        return Vector128.ConditionalSelect(fix, r + b, r);
    }

    /// <summary>a^b (lane by lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Pow(Vector128<float> a, Vector128<float> b)
    {
        float* pa = (float*)&a;
        float* pb = (float*)&b;
        for (int k = 0; k < Vector128<float>.Count; k++) pa[k] = MathF.Pow(pa[k], pb[k]);
        return a;
    }

    /// <summary>max(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Maximum(Vector128<float> a, Vector128<float> b)
    {
        var r = Vector128.ConditionalSelect(Vector128.GreaterThan(b, a), b, a);
        return Vector128.ConditionalSelect(Vector128.Equals(b, b), r, b);
    }

    /// <summary>min(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Minimum(Vector128<float> a, Vector128<float> b)
    {
        var r = Vector128.ConditionalSelect(Vector128.LessThan(b, a), b, a);
        return Vector128.ConditionalSelect(Vector128.Equals(b, b), r, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Bool(Vector128<float> mask) => mask & Vector128<float>.One;

    /// <summary>a == b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Eq(Vector128<float> a, Vector128<float> b) => Bool(Vector128.Equals(a, b));

    /// <summary>a != b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Ne(Vector128<float> a, Vector128<float> b) => Bool(~Vector128.Equals(a, b));

    /// <summary>a &lt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Lt(Vector128<float> a, Vector128<float> b) => Bool(Vector128.LessThan(a, b));

    /// <summary>a ≤ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Le(Vector128<float> a, Vector128<float> b) => Bool(Vector128.LessThanOrEqual(a, b));

    /// <summary>a &gt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Gt(Vector128<float> a, Vector128<float> b) => Bool(Vector128.GreaterThan(a, b));

    /// <summary>a ≥ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Ge(Vector128<float> a, Vector128<float> b) => Bool(Vector128.GreaterThanOrEqual(a, b));

    /// <summary>a and b (0/1 inputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LogicalAnd(Vector128<float> a, Vector128<float> b) => Bool(~Vector128.Equals(a, Vector128<float>.Zero) & ~Vector128.Equals(b, Vector128<float>.Zero));

    /// <summary>a or b (0/1 inputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LogicalOr(Vector128<float> a, Vector128<float> b) => Bool(~Vector128.Equals(a, Vector128<float>.Zero) | ~Vector128.Equals(b, Vector128<float>.Zero));

    /// <summary>c ? a : b (c is 0/1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Where(Vector128<float> c, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(~Vector128.Equals(c, Vector128<float>.Zero), a, b);
}
