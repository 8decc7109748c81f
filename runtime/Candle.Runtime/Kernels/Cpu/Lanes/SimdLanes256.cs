using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// 256-bit float32 lanes for generated elementwise kernels: loads and stores of f32, f16, bf16 and bool (with
/// f32 compute), strided gathers, arithmetic and vectorized approximations. Generated IL calls these by name;
/// all are aggressively inlined. Accuracy: exp, log, sin and cos are .NET's vector versions (about 1 ulp);
/// tanh has relative error below 5e-7; erf absolute error below 2e-7 (Abramowitz–Stegun 7.1.26 above |x| = 0.5,
/// Taylor series below); gelu, gelu_tanh, sigmoid and silu inherit from exp, erf and tanh. Bools are 0 or 1.
/// </summary>
public static unsafe class SimdLanes256
{
    /// <summary>Number of lanes.</summary>
    public static int Count => Vector256<float>.Count;

    /// <summary>Loads f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadF32(byte* p) => Vector256.Load((float*)p);

    /// <summary>Stores f32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF32(Vector256<float> v, byte* p) => v.Store((float*)p);

    /// <summary>Loads bf16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadBF16(byte* p)
    {
        var h = Vector128.Load((ushort*)p);
        var w = Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h));
        return (w << 16).AsSingle();
    }

    /// <summary>Stores f32 lanes as bf16 (round to nearest even, NaN kept quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBF16(Vector256<float> v, byte* p)
    {
        var b = Bf16Bits(v);
        Vector128.Narrow(b.GetLower(), b.GetUpper()).Store((ushort*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Bf16Bits(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        var nan = Vector256.GreaterThan(bits & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        return Vector256.ConditionalSelect(nan, (bits >> 16) | Vector256.Create(0x40u), rounded);
    }

    /// <summary>Loads f16 lanes as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadF16(byte* p)
    {
        var h = Vector128.Load((ushort*)p);
        return HalfToSingle(Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h)));
    }

    /// <summary>Stores f32 lanes as f16 (round to nearest even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(Vector256<float> v, byte* p)
    {
        var b = SingleToHalf(v);
        Vector128.Narrow(b.GetLower(), b.GetUpper()).Store((ushort*)p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfToSingle(Vector256<uint> h)
    {
        var shiftedExp = Vector256.Create(0x7C00u << 13);
        var o = (h & Vector256.Create(0x7FFFu)) << 13;
        var exp = o & shiftedExp;
        o += Vector256.Create((127u - 15u) << 23);
        var infNan = Vector256.Equals(exp, shiftedExp);
        var denorm = Vector256.Equals(exp, Vector256<uint>.Zero);
        o = Vector256.ConditionalSelect(infNan, o + Vector256.Create((128u - 16u) << 23), o);
        var dn = ((o + Vector256.Create(1u << 23)).AsSingle() - Vector256.Create(113u << 23).AsSingle()).AsUInt32();
        o = Vector256.ConditionalSelect(denorm, dn, o);
        return (o | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> SingleToHalf(Vector256<float> v)
    {
        var f = v.AsUInt32();
        var sign = f & Vector256.Create(0x8000_0000u);
        f ^= sign;
        var f32Inf = Vector256.Create(255u << 23);
        var f16Max = Vector256.Create((127u + 16u) << 23);
        var denormMagic = Vector256.Create(((127u - 15u) + (23u - 10u) + 1u) << 23);
        var big = Vector256.GreaterThanOrEqual(f, f16Max);
        var bigVal = Vector256.ConditionalSelect(Vector256.GreaterThan(f, f32Inf), Vector256.Create(0x7E00u), Vector256.Create(0x7C00u));
        var small = Vector256.LessThan(f, Vector256.Create(113u << 23));
        var smallVal = (f.AsSingle() + denormMagic.AsSingle()).AsUInt32() - denormMagic;
        var mantOdd = (f >> 13) & Vector256<uint>.One;
        var normVal = (f + Vector256.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFFu) + mantOdd) >> 13;
        var o = Vector256.ConditionalSelect(big, bigVal, Vector256.ConditionalSelect(small, smallVal, normVal));
        return o | (sign >> 16);
    }

    /// <summary>Loads bool lanes as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadBool(byte* p)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector256<float>.Count; k++) t[k] = p[k] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>Stores lanes as bools (nonzero is true).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBool(Vector256<float> v, byte* p)
    {
        float* t = (float*)&v;
        for (int k = 0; k < Vector256<float>.Count; k++) p[k] = t[k] != 0 ? (byte)1 : (byte)0;
    }

    /// <summary>Gathers f32 lanes at a stride (in elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GatherF32(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector256<float>.Count; k++) t[k] = ((float*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers f16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GatherF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector256<float>.Count; k++) t[k] = (float)((Half*)p)[k * stride];
        return r;
    }

    /// <summary>Gathers bf16 lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GatherBF16(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector256<float>.Count; k++) t[k] = BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[k * stride] << 16);
        return r;
    }

    /// <summary>Gathers bool lanes at a stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GatherBool(byte* p, long stride)
    {
        Unsafe.SkipInit(out Vector256<float> r);
        float* t = (float*)&r;
        for (int k = 0; k < Vector256<float>.Count; k++) t[k] = p[k * stride] != 0 ? 1f : 0f;
        return r;
    }

    /// <summary>All lanes equal to <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Splat(float x) => Vector256.Create(x);

    /// <summary>a + b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    /// <summary>a − b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;

    /// <summary>a · b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;

    /// <summary>a / b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;

    /// <summary>a·b + c, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    /// <summary>−x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Neg(Vector256<float> x) => -x;

    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);

    /// <summary>e^x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Vector256.Exp(x);

    /// <summary>ln x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x) => Vector256.Log(x);

    /// <summary>√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);

    /// <summary>1/√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Rsqrt(Vector256<float> x) => Vector256<float>.One / Vector256.Sqrt(x);

    /// <summary>sin x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sin(Vector256<float> x) => Vector256.Sin(x);

    /// <summary>cos x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Cos(Vector256<float> x) => Vector256.Cos(x);

    /// <summary>tanh x: an odd Taylor polynomial below |x| = 0.1, else (1 − e^(−2|x|))/(1 + e^(−2|x|)) with x's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var t = Vector256.Exp(Vector256.Create(-2f) * ax);
        var big = (Vector256<float>.One - t) / (Vector256<float>.One + t);
        big = Vector256.CopySign(big, x);
        var x2 = x * x;
        var poly = Vector256.FusedMultiplyAdd(x2, Vector256.Create(-17f / 315f), Vector256.Create(2f / 15f));
        poly = Vector256.FusedMultiplyAdd(x2, poly, Vector256.Create(-1f / 3f));
        var small = Vector256.FusedMultiplyAdd(x * x2, poly, x);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(0.1f)), small, big);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    }

    /// <summary>erf x (see the class remarks for the error bound).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(Vector256.Create(0.3275911f), ax, Vector256<float>.One);
        var p = Vector256.FusedMultiplyAdd(t, Vector256.Create(1.061405429f), Vector256.Create(-1.453152027f));
        p = Vector256.FusedMultiplyAdd(t, p, Vector256.Create(1.421413741f));
        p = Vector256.FusedMultiplyAdd(t, p, Vector256.Create(-0.284496736f));
        p = Vector256.FusedMultiplyAdd(t, p, Vector256.Create(0.254829592f));
        p *= t;
        var big = Vector256<float>.One - (p * Vector256.Exp(-(ax * ax)));
        big = Vector256.CopySign(big, x);
        var x2 = x * x;
        var s = Vector256.FusedMultiplyAdd(x2, Vector256.Create(-1f / 1320f), Vector256.Create(1f / 216f));
        s = Vector256.FusedMultiplyAdd(x2, s, Vector256.Create(-1f / 42f));
        s = Vector256.FusedMultiplyAdd(x2, s, Vector256.Create(1f / 10f));
        s = Vector256.FusedMultiplyAdd(x2, s, Vector256.Create(-1f / 3f));
        s = Vector256.FusedMultiplyAdd(x2, s, Vector256<float>.One);
        var small = x * s * Vector256.Create(1.1283791670955126f);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(0.5f)), small, big);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    }

    /// <summary>1/(1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    /// <summary>max(x, 0), NaN kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Relu(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256<float>.Zero, x);

    /// <summary>0.5·x·(1 + erf(x/√2)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256<float>.One + Erf(x * Vector256.Create(0.70710677f)));

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluTanh(Vector256<float> x)
    {
        var inner = Vector256.Create(0.7978846f) * Vector256.FusedMultiplyAdd(Vector256.Create(0.044715f) * x * x, x, x);
        return Vector256.Create(0.5f) * x * (Vector256<float>.One + Tanh(inner));
    }

    /// <summary>x·sigmoid(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Silu(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));

    /// <summary>floor x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Floor(Vector256<float> x) => Vector256.Floor(x);

    /// <summary>ceil x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Ceil(Vector256<float> x) => Vector256.Ceiling(x);

    /// <summary>Round half to even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Round(Vector256<float> x) => Vector256.Round(x);

    /// <summary>−1, 0 or 1 (NaN kept).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sign(Vector256<float> x)
    {
        var r = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), Vector256<float>.One, Vector256<float>.Zero);
        r = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256.Create(-1f), r);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    }

    /// <summary>1/x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Reciprocal(Vector256<float> x) => Vector256<float>.One / x;

    /// <summary>1 where x is 0, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogicalNot(Vector256<float> x) => Bool(Vector256.Equals(x, Vector256<float>.Zero));

    /// <summary>1 where x is nonzero (NaN included), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToBool(Vector256<float> x) => Bool(~Vector256.Equals(x, Vector256<float>.Zero));

    /// <summary>Rounds to the nearest f16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> RoundF16(Vector256<float> x) => HalfToSingle(SingleToHalf(x));

    /// <summary>Rounds to the nearest bf16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> RoundBF16(Vector256<float> x) => (Bf16Bits(x) << 16).AsSingle();

    /// <summary>floor(a / b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FloorDiv(Vector256<float> a, Vector256<float> b) => Vector256.Floor(a / b);

    /// <summary>a − b·floor(a/b) with the divisor's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Remainder(Vector256<float> a, Vector256<float> b)
    {
        var r = a - (b * Vector256.Truncate(a / b));
        var fix = ~Vector256.Equals(r, Vector256<float>.Zero) & (Vector256.LessThan(r, Vector256<float>.Zero) ^ Vector256.LessThan(b, Vector256<float>.Zero));
        return Vector256.ConditionalSelect(fix, r + b, r);
    }

    /// <summary>a^b (lane by lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow(Vector256<float> a, Vector256<float> b)
    {
        float* pa = (float*)&a;
        float* pb = (float*)&b;
        for (int k = 0; k < Vector256<float>.Count; k++) pa[k] = MathF.Pow(pa[k], pb[k]);
        return a;
    }

    /// <summary>max(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Maximum(Vector256<float> a, Vector256<float> b)
    {
        var r = Vector256.ConditionalSelect(Vector256.GreaterThan(b, a), b, a);
        return Vector256.ConditionalSelect(Vector256.Equals(b, b), r, b);
    }

    /// <summary>min(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Minimum(Vector256<float> a, Vector256<float> b)
    {
        var r = Vector256.ConditionalSelect(Vector256.LessThan(b, a), b, a);
        return Vector256.ConditionalSelect(Vector256.Equals(b, b), r, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Bool(Vector256<float> mask) => mask & Vector256<float>.One;

    /// <summary>a == b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Eq(Vector256<float> a, Vector256<float> b) => Bool(Vector256.Equals(a, b));

    /// <summary>a != b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Ne(Vector256<float> a, Vector256<float> b) => Bool(~Vector256.Equals(a, b));

    /// <summary>a &lt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Lt(Vector256<float> a, Vector256<float> b) => Bool(Vector256.LessThan(a, b));

    /// <summary>a ≤ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Le(Vector256<float> a, Vector256<float> b) => Bool(Vector256.LessThanOrEqual(a, b));

    /// <summary>a &gt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gt(Vector256<float> a, Vector256<float> b) => Bool(Vector256.GreaterThan(a, b));

    /// <summary>a ≥ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Ge(Vector256<float> a, Vector256<float> b) => Bool(Vector256.GreaterThanOrEqual(a, b));

    /// <summary>a and b (0/1 inputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogicalAnd(Vector256<float> a, Vector256<float> b) => Bool(~Vector256.Equals(a, Vector256<float>.Zero) & ~Vector256.Equals(b, Vector256<float>.Zero));

    /// <summary>a or b (0/1 inputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogicalOr(Vector256<float> a, Vector256<float> b) => Bool(~Vector256.Equals(a, Vector256<float>.Zero) | ~Vector256.Equals(b, Vector256<float>.Zero));

    /// <summary>c ? a : b (c is 0/1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Where(Vector256<float> c, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(~Vector256.Equals(c, Vector256<float>.Zero), a, b);
}
