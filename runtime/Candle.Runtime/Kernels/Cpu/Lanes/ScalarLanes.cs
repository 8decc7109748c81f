using System.Runtime.CompilerServices;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Kernels.Cpu.Lanes;

/// <summary>
/// One float32 lane: the scalar tails of generated elementwise kernels. Same member names as
/// <see cref="SimdLanes256"/>; transcendental functions use <see cref="MathF"/> (or double precision for erf).
/// </summary>
public static unsafe class ScalarLanes
{
    /// <summary>Loads an f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF32(byte* p) => *(float*)p;

    /// <summary>Stores an f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF32(float v, byte* p) => *(float*)p = v;

    /// <summary>Loads a bf16 as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadBF16(byte* p) => BFloat16Bits.ToSingle(*(ushort*)p);

    /// <summary>Stores an f32 as bf16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBF16(float v, byte* p) => *(ushort*)p = BFloat16Bits.FromSingle(v);

    /// <summary>Loads an f16 as f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF16(byte* p) => (float)*(Half*)p;

    /// <summary>Stores an f32 as f16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(float v, byte* p) => *(Half*)p = (Half)v;

    /// <summary>Loads a bool as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadBool(byte* p) => *p != 0 ? 1f : 0f;

    /// <summary>Stores a bool (nonzero is true).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBool(float v, byte* p) => *p = v != 0 ? (byte)1 : (byte)0;

    /// <summary>The value itself.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Splat(float x) => x;

    /// <summary>a + b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float a, float b) => a + b;

    /// <summary>a − b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sub(float a, float b) => a - b;

    /// <summary>a · b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Mul(float a, float b) => a * b;

    /// <summary>a / b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Div(float a, float b) => a / b;

    /// <summary>a·b + c, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    /// <summary>−x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Neg(float x) => -x;

    /// <summary>|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Abs(float x) => MathF.Abs(x);

    /// <summary>e^x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => MathF.Exp(x);

    /// <summary>ln x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log(float x) => MathF.Log(x);

    /// <summary>√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sqrt(float x) => MathF.Sqrt(x);

    /// <summary>1/√x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);

    /// <summary>sin x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sin(float x) => MathF.Sin(x);

    /// <summary>cos x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Cos(float x) => MathF.Cos(x);

    /// <summary>tanh x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x) => MathF.Tanh(x);

    /// <summary>erf x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Erf(float x) => (float)ScalarMath.Erf(x);

    /// <summary>1/(1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>max(x, 0), NaN kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Relu(float x) => x < 0 ? 0f : x;

    /// <summary>0.5·x·(1 + erf(x/√2)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x) => (float)(0.5 * x * (1 + ScalarMath.Erf(x * 0.7071067811865476)));

    /// <summary>GELU, tanh form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GeluTanh(float x) => 0.5f * x * (1f + MathF.Tanh(0.7978846f * (x + (0.044715f * x * x * x))));

    /// <summary>x·sigmoid(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    /// <summary>floor x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Floor(float x) => MathF.Floor(x);

    /// <summary>ceil x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Ceil(float x) => MathF.Ceiling(x);

    /// <summary>Round half to even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float x) => MathF.Round(x, MidpointRounding.ToEven);

    /// <summary>−1, 0 or 1 (NaN kept).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sign(float x) => float.IsNaN(x) ? x : x > 0 ? 1f : x < 0 ? -1f : 0f;

    /// <summary>1/x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reciprocal(float x) => 1f / x;

    /// <summary>1 where x is 0, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LogicalNot(float x) => x == 0 ? 1f : 0f;

    /// <summary>1 where x is nonzero (NaN included), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToBool(float x) => x != 0 ? 1f : 0f;

    /// <summary>Rounds to the nearest f16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundF16(float x) => (float)(Half)x;

    /// <summary>Rounds to the nearest bf16 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundBF16(float x) => BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(x));

    /// <summary>floor(a / b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FloorDiv(float a, float b) => MathF.Floor(a / b);

    /// <summary>a − b·floor(a/b) with the divisor's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Remainder(float a, float b)
    {
        float r = a % b;
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <summary>a^b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Pow(float a, float b) => MathF.Pow(a, b);

    /// <summary>max(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Maximum(float a, float b) => float.IsNaN(b) ? b : b > a ? b : a;

    /// <summary>min(a, b), NaN propagating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Minimum(float a, float b) => float.IsNaN(b) ? b : b < a ? b : a;

    /// <summary>a == b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Eq(float a, float b) => a == b ? 1f : 0f;

    /// <summary>a != b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Ne(float a, float b) => a != b ? 1f : 0f;

    /// <summary>a &lt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Lt(float a, float b) => a < b ? 1f : 0f;

    /// <summary>a ≤ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Le(float a, float b) => a <= b ? 1f : 0f;

    /// <summary>a &gt; b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gt(float a, float b) => a > b ? 1f : 0f;

    /// <summary>a ≥ b as 0/1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Ge(float a, float b) => a >= b ? 1f : 0f;

    /// <summary>a and b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LogicalAnd(float a, float b) => a != 0 && b != 0 ? 1f : 0f;

    /// <summary>a or b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LogicalOr(float a, float b) => a != 0 || b != 0 ? 1f : 0f;

    /// <summary>c ? a : b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Where(float c, float a, float b) => c != 0 ? a : b;
}
