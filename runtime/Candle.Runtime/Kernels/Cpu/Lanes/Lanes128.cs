using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>128-bit float32 lanes: the primitives of <see cref="ILanes{TVec}"/> as one-line Vector128 operations.</summary>
public readonly unsafe struct Lanes128 : ILanes<Vector128<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector128<float>.Count;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Splat(float x) => Vector128.Create(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(float* p) => Vector128.Load(p);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> v, float* p) => v.Store(p);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadWidenU16(ushort* p)
    {
        var h = Vector64.Load(p);
        return Vector128.Create(Vector64.WidenLower(h), Vector64.WidenUpper(h)).AsSingle();
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNarrowU16(Vector128<float> bits, ushort* p)
    {
        var b = bits.AsUInt32();
        Vector64.Narrow(b.GetLower(), b.GetUpper()).Store(p);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Neg(Vector128<float> x) => -x;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Abs(Vector128<float> x) => Vector128.Abs(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sqrt(Vector128<float> x) => Vector128.Sqrt(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x) => Vector128.Exp(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Log(Vector128<float> x) => Vector128.Log(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sin(Vector128<float> x) => Vector128.Sin(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Cos(Vector128<float> x) => Vector128.Cos(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Floor(Vector128<float> x) => Vector128.Floor(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Ceiling(Vector128<float> x) => Vector128.Ceiling(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Round(Vector128<float> x) => Vector128.Round(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Truncate(Vector128<float> x) => Vector128.Truncate(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> CopySign(Vector128<float> x, Vector128<float> sign) => Vector128.CopySign(x, sign);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Equal(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LessThanOrEqual(Vector128<float> a, Vector128<float> b) => Vector128.LessThanOrEqual(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GreaterThan(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GreaterThanOrEqual(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThanOrEqual(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> And(Vector128<float> a, Vector128<float> b) => a & b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Or(Vector128<float> a, Vector128<float> b) => a | b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Xor(Vector128<float> a, Vector128<float> b) => a ^ b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Not(Vector128<float> a) => ~a;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SplatBits(uint bits) => Vector128.Create(bits).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> AddBits(Vector128<float> a, Vector128<float> b) => (a.AsUInt32() + b.AsUInt32()).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SubBits(Vector128<float> a, Vector128<float> b) => (a.AsUInt32() - b.AsUInt32()).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ShiftLeftBits(Vector128<float> a, int count) => (a.AsUInt32() << count).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ShiftRightBits(Vector128<float> a, int count) => (a.AsUInt32() >> count).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> EqualBits(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a.AsUInt32(), b.AsUInt32()).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GreaterThanBits(Vector128<float> a, Vector128<float> b) => Vector128.GreaterThan(a.AsUInt32(), b.AsUInt32()).AsSingle();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LessThanBits(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a.AsUInt32(), b.AsUInt32()).AsSingle();
}
