using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// 512-bit float32 lanes for generated elementwise kernels: loads and stores of f32, f16, bf16 and bool (with
/// f32 compute), strided gathers, arithmetic and vectorized approximations. Generated IL calls these by name;
/// all are aggressively inlined. Accuracy: exp, log, sin and cos are .NET's vector versions (about 1 ulp);
/// tanh has relative error below 5e-7; erf absolute error below 2e-7 (Abramowitz–Stegun 7.1.26 above |x| = 0.5,
/// Taylor series below); gelu, gelu_tanh, sigmoid and silu inherit from exp, erf and tanh. Bools are 0 or 1.
/// </summary>
public static unsafe class SimdLanes512
{
    /// <summary>Number of lanes.</summary>
    public static int Count => Vector512<float>.Count;

    /// <summary>Loads f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadF32(byte* p) => Vector512.Load((float*)p);

    /// <summary>Stores f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF32(Vector512<float> v, byte* p) => v.Store((float*)p);

    /// <summary>Loads bf16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadBF16(byte* p)
    {
        var h = Vector256.Load((ushort*)p);
        var w = Vector512.Create(Vector256.WidenLower(h), Vector256.WidenUpper(h));
        return (w << 16).AsSingle();
    }

    /// <summary>Stores f32 lanes as bf16 (round to nearest even, NaN kept quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBF16(Vector512<float> v, byte* p)
    {
        var b = Bf16Bits(v);
        Vector256.Narrow(b.GetLower(), b.GetUpper()).Store((ushort*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Bf16Bits(Vector512<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
        var nan = Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(nan, (bits >> 16) | Vector512.Create(0x40u), rounded);
    }

    /// <summary>Loads f16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadF16(byte* p)
    {
        var h = Vector256.Load((ushort*)p);
        return HalfToSingle(Vector512.Create(Vector256.WidenLower(h), Vector256.WidenUpper(h)));
    }

    /// <summary>Stores f32 lanes as f16 (round to nearest even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(Vector512<float> v, byte* p)
    {
        var b = SingleToHalf(v);
        Vector256.Narrow(b.GetLower(), b.GetUpper()).Store((ushort*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> HalfToSingle(Vector512<uint> h)
    {
        var shiftedExp = Vector512.Create(0x7C00u << 13);
        var o = (h & Vector512.Create(0x7FFFu)) << 13;
        var exp = o & shiftedExp;
        o += Vector512.Create((127u - 15u) << 23);
        var infNan = Vector512.Equals(exp, shiftedExp);
        var denorm = Vector512.Equals(exp, Vector512<uint>.Zero);
        o = Vector512.ConditionalSelect(infNan, o + Vector512.Create((128u - 16u) << 23), o);
        var dn = ((o + Vector512.Create(1u << 23)).AsSingle() - Vector512.Create(113u << 23).AsSingle()).AsUInt32();
        o = Vector512.ConditionalSelect(denorm, dn, o);
        return (o | ((h & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> SingleToHalf(Vector512<float> v)
    {
        var f = v.AsUInt32();
        var sign = f & Vector512.Create(0x8000_0000u);
        f ^= sign;
        var f32Inf = Vector512.Create(255u << 23);
        var f16Max = Vector512.Create((127u + 16u) << 23);
        var denormMagic = Vector512.Create(((127u - 15u) + (23u - 10u) + 1u) << 23);
        var big = Vector512.GreaterThanOrEqual(f, f16Max);
        var bigVal = Vector512.ConditionalSelect(Vector512.GreaterThan(f, f32Inf), Vector512.Create(0x7E00u), Vector512.Create(0x7C00u));
        var small = Vector512.LessThan(f, Vector512.Create(113u << 23));
        var smallVal = (f.AsSingle() + denormMagic.AsSingle()).AsUInt32() - denormMagic;
        var mantOdd = (f >> 13) & Vector512<uint>.One;
        var normVal = (f + Vector512.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFFu) + mantOdd) >> 13;
        var o = Vector512.ConditionalSelect(big, bigVal, Vector512.ConditionalSelect(small, smallVal, normVal));
        return o | (sign >> 16);
    }

    /// <summary>Loads bool lanes as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadBool(byte* p)
    {
        Unsafe.SkipInit(out Vector512<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector512<float>.Count; k++) t[k] = p[k] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>Stores lanes as bools (nonzero is true).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBool(Vector512<float> v, byte* p)
    {
        float* t = (float*)&v;
        for (int k = 0; k < Vector512<float>.Count; k++) p[k] = t[k] != 0 ? (byte)1 : (byte)0;
    }

    /// <summary>Gathers f32 lanes at a stride (in elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GatherF32(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector512<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector512<float>.Count; k++) t[k] = ((float*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers f16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GatherF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector512<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector512<float>.Count; k++) t[k] = (float)((Half*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers bf16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GatherBF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector512<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector512<float>.Count; k++) t[k] = BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[k * stride] << 16);
        return r;
    }

    /// <summary>Gathers bool lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GatherBool(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector512<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector512<float>.Count; k++) t[k] = p[k * stride] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>All lanes equal to <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Splat(float x) => Vector512.Create(x);

    /// <summary>a + b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    /// <summary>a − b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;

    /// <summary>a · b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;

    /// <summary>a / b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;

    /// <summary>a·b + c, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    /// <summary>−x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Neg(Vector512<float> x) => -x;

    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Abs(Vector512<float> x) => Vector512.Abs(x);

    /// <summary>e^x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => Vector512.Exp(x);

    /// <summary>ln x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log(Vector512<float> x) => Vector512.Log(x);

    /// <summary>√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sqrt(Vector512<float> x) => Vector512.Sqrt(x);

    /// <summary>1/√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Rsqrt(Vector512<float> x) => Vector512<float>.One / Vector512.Sqrt(x);

    /// <summary>sin x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sin(Vector512<float> x) => Vector512.Sin(x);

    /// <summary>cos x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Cos(Vector512<float> x) => Vector512.Cos(x);

    /// <summary>tanh x: an odd Taylor polynomial below |x| = 0.1, else (1 − e^(−2|x|))/(1 + e^(−2|x|)) with x's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var t = Vector512.Exp(Vector512.Create(-2f) * ax);
        var big = (Vector512<float>.One - t) / (Vector512<float>.One + t);
        big = Vector512.CopySign(big, x);
        var x2 = x * x;
        var poly = Vector512.FusedMultiplyAdd(x2, Vector512.Create(-17f / 315f), Vector512.Create(2f / 15f));
        poly = Vector512.FusedMultiplyAdd(x2, poly, Vector512.Create(-1f / 3f));
        var small = Vector512.FusedMultiplyAdd(x * x2, poly, x);
        var r = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.1f)), small, big);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), r, x);
    }

    /// <summary>erf x (see the class remarks for the error bound).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(Vector512.Create(0.3275911f), ax, Vector512<float>.One);
        var p = Vector512.FusedMultiplyAdd(t, Vector512.Create(1.061405429f), Vector512.Create(-1.453152027f));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(1.421413741f));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(-0.284496736f));
        p = Vector512.FusedMultiplyAdd(t, p, Vector512.Create(0.254829592f));
        p *= t;
        var big = Vector512<float>.One - (p * Vector512.Exp(-(ax * ax)));
        big = Vector512.CopySign(big, x);
        var x2 = x * x;
        var s = Vector512.FusedMultiplyAdd(x2, Vector512.Create(-1f / 1320f), Vector512.Create(1f / 216f));
        s = Vector512.FusedMultiplyAdd(x2, s, Vector512.Create(-1f / 42f));
        s = Vector512.FusedMultiplyAdd(x2, s, Vector512.Create(1f / 10f));
        s = Vector512.FusedMultiplyAdd(x2, s, Vector512.Create(-1f / 3f));
        s = Vector512.FusedMultiplyAdd(x2, s, Vector512<float>.One);
        var small = x * s * Vector512.Create(1.1283791670955126f);
        var r = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.5f)), small, big);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), r, x);
    }

    /// <summary>1/(1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    /// <summary>max(x, 0), NaN kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Relu(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512<float>.Zero, x);

    /// <summary>0.5·x·(1 + erf(x/√2)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512<float>.One + Erf(x * Vector512.Create(0.70710677f)));

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GeluTanh(Vector512<float> x)
    {
        var inner = Vector512.Create(0.7978846f) * Vector512.FusedMultiplyAdd(Vector512.Create(0.044715f) * x * x, x, x);
        return Vector512.Create(0.5f) * x * (Vector512<float>.One + Tanh(inner));
    }

    /// <summary>x·sigmoid(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Silu(Vector512<float> x) => x / (Vector512<float>.One + Vector512.Exp(-x));

    /// <summary>floor x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Floor(Vector512<float> x) => Vector512.Floor(x);

    /// <summary>ceil x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Ceil(Vector512<float> x) => Vector512.Ceiling(x);

    /// <summary>Round half to even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Round(Vector512<float> x) => Vector512.Round(x);

    /// <summary>−1, 0 or 1 (NaN kept).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sign(Vector512<float> x)
    {
        var r = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), Vector512<float>.One, Vector512<float>.Zero);
        r = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512.Create(-1f), r);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), r, x);
    }

    /// <summary>1/x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Reciprocal(Vector512<float> x) => Vector512<float>.One / x;

    /// <summary>1 where x is 0, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LogicalNot(Vector512<float> x) => Bool(Vector512.Equals(x, Vector512<float>.Zero));

    /// <summary>1 where x is nonzero (NaN included), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToBool(Vector512<float> x) => Bool(~Vector512.Equals(x, Vector512<float>.Zero));

    /// <summary>Rounds to the nearest f16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RoundF16(Vector512<float> x) => HalfToSingle(SingleToHalf(x));

    /// <summary>Rounds to the nearest bf16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RoundBF16(Vector512<float> x) => (Bf16Bits(x) << 16).AsSingle();

    /// <summary>floor(a / b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FloorDiv(Vector512<float> a, Vector512<float> b) => Vector512.Floor(a / b);

    /// <summary>a − b·floor(a/b) with the divisor's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Remainder(Vector512<float> a, Vector512<float> b)
    {
        var r = a - (b * Vector512.Truncate(a / b));
        var fix = ~Vector512.Equals(r, Vector512<float>.Zero) & (Vector512.LessThan(r, Vector512<float>.Zero) ^ Vector512.LessThan(b, Vector512<float>.Zero));
        return Vector512.ConditionalSelect(fix, r + b, r);
    }

    /// <summary>a^b (lane by lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pow(Vector512<float> a, Vector512<float> b)
    {
        float* pa = (float*)&a;
        float* pb = (float*)&b;
        for (int k = 0; k < Vector512<float>.Count; k++) pa[k] = MathF.Pow(pa[k], pb[k]);
        return a;
    }

    /// <summary>max(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Maximum(Vector512<float> a, Vector512<float> b)
    {
        var r = Vector512.ConditionalSelect(Vector512.GreaterThan(b, a), b, a);
        return Vector512.ConditionalSelect(Vector512.Equals(b, b), r, b);
    }

    /// <summary>min(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Minimum(Vector512<float> a, Vector512<float> b)
    {
        var r = Vector512.ConditionalSelect(Vector512.LessThan(b, a), b, a);
        return Vector512.ConditionalSelect(Vector512.Equals(b, b), r, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Bool(Vector512<float> mask) => mask & Vector512<float>.One;

    /// <summary>a == b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Eq(Vector512<float> a, Vector512<float> b) => Bool(Vector512.Equals(a, b));

    /// <summary>a != b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Ne(Vector512<float> a, Vector512<float> b) => Bool(~Vector512.Equals(a, b));

    /// <summary>a &lt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Lt(Vector512<float> a, Vector512<float> b) => Bool(Vector512.LessThan(a, b));

    /// <summary>a ≤ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Le(Vector512<float> a, Vector512<float> b) => Bool(Vector512.LessThanOrEqual(a, b));

    /// <summary>a &gt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gt(Vector512<float> a, Vector512<float> b) => Bool(Vector512.GreaterThan(a, b));

    /// <summary>a ≥ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Ge(Vector512<float> a, Vector512<float> b) => Bool(Vector512.GreaterThanOrEqual(a, b));

    /// <summary>a and b (0/1 inputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LogicalAnd(Vector512<float> a, Vector512<float> b) => Bool(~Vector512.Equals(a, Vector512<float>.Zero) & ~Vector512.Equals(b, Vector512<float>.Zero));

    /// <summary>a or b (0/1 inputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LogicalOr(Vector512<float> a, Vector512<float> b) => Bool(~Vector512.Equals(a, Vector512<float>.Zero) | ~Vector512.Equals(b, Vector512<float>.Zero));

    /// <summary>c ? a : b (c is 0/1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Where(Vector512<float> c, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(~Vector512.Equals(c, Vector512<float>.Zero), a, b);
}
