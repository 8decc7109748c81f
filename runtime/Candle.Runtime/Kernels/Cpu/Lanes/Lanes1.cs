using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// One float32 lane: <see cref="ILanes{TVec}"/> over <see cref="float"/>, so the scalar tails of generated kernels
/// run the same operator code as their vector bodies. exp, log, sin and cos go through one <see cref="Vector128"/>
/// lane, so a tail element equals the vector body's value for the same input bit for bit.
/// </summary>
public readonly unsafe struct Lanes1 : ILanes<float>
{
    private const uint AllOnes = 0xFFFF_FFFFu;

    /// <inheritdoc/>
    public static int Count => 1;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Splat(float x) => x;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(float* p) => *p;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float v, float* p) => *p = v;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadWidenU16(ushort* p) => Bits(*p);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNarrowU16(float bits, ushort* p) => *p = (ushort)U(bits);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float a, float b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sub(float a, float b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Mul(float a, float b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Div(float a, float b) => a / b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Neg(float x) => -x;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Abs(float x) => MathF.Abs(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sqrt(float x) => MathF.Sqrt(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => Vector128.Exp(Vector128.CreateScalarUnsafe(x)).ToScalar();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log(float x) => Vector128.Log(Vector128.CreateScalarUnsafe(x)).ToScalar();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sin(float x) => Vector128.Sin(Vector128.CreateScalarUnsafe(x)).ToScalar();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Cos(float x) => Vector128.Cos(Vector128.CreateScalarUnsafe(x)).ToScalar();

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Floor(float x) => MathF.Floor(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Ceiling(float x) => MathF.Ceiling(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float x) => MathF.Round(x, MidpointRounding.ToEven);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Truncate(float x) => MathF.Truncate(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float CopySign(float x, float sign) => MathF.CopySign(x, sign);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Equal(float a, float b) => Mask(a == b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LessThan(float a, float b) => Mask(a < b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LessThanOrEqual(float a, float b) => Mask(a <= b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GreaterThan(float a, float b) => Mask(a > b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GreaterThanOrEqual(float a, float b) => Mask(a >= b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float And(float a, float b) => Bits(U(a) & U(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Or(float a, float b) => Bits(U(a) | U(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Xor(float a, float b) => Bits(U(a) ^ U(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Not(float a) => Bits(~U(a));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Select(float mask, float a, float b) => U(mask) != 0 ? a : b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SplatBits(uint bits) => Bits(bits);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float AddBits(float a, float b) => Bits(unchecked(U(a) + U(b)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SubBits(float a, float b) => Bits(unchecked(U(a) - U(b)));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ShiftLeftBits(float a, int count) => Bits(U(a) << count);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ShiftRightBits(float a, int count) => Bits(U(a) >> count);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float EqualBits(float a, float b) => Mask(U(a) == U(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GreaterThanBits(float a, float b) => Mask(U(a) > U(b));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LessThanBits(float a, float b) => Mask(U(a) < U(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint U(float x) => BitConverter.SingleToUInt32Bits(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Bits(uint x) => BitConverter.UInt32BitsToSingle(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Mask(bool b) => Bits(b ? AllOnes : 0u);
}
