using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// The device functions generated GPU kernels call: loads and stores of each storage dtype (f16/bf16/bool widened to
/// f32 on load, narrowed on store with round to nearest even) and one function per elementwise op, with the same
/// semantics as the CPU kernels' op definitions. ILGPU compiles them into each kernel (PTX, OpenCL C, or .NET on its
/// CPU accelerator). Public only because generated kernel assemblies call them.
/// </summary>
public static class GpuMath
{
    /// <summary>The flat index of an implicitly grouped kernel.</summary>
    public static long Linear(Index1D index) => index.X;

    /// <summary>Reads an f32 element.</summary>
    public static float LoadF32(ArrayView<float> view, long i) => view[i];

    /// <summary>Reads an f16 element as f32.</summary>
    public static float LoadF16(ArrayView<ushort> view, long i) => F16ToF32(view[i]);

    /// <summary>Reads an f16 element as f32 by the hardware conversion (<see cref="HalfToF32"/>).</summary>
    public static float LoadHalf(ArrayView<ushort> view, long i) => HalfToF32(view[i]);

    /// <summary>Reads a bf16 element as f32.</summary>
    public static float LoadBF16(ArrayView<ushort> view, long i) => BF16ToF32(view[i]);

    /// <summary>Reads a bool element as 0 or 1.</summary>
    public static float LoadBool(ArrayView<byte> view, long i) => view[i] != 0 ? 1f : 0f;

    /// <summary>Writes an f32 element.</summary>
    public static void StoreF32(ArrayView<float> view, long i, float v) => view[i] = v;

    /// <summary>Writes an f16 element.</summary>
    public static void StoreF16(ArrayView<ushort> view, long i, float v) => view[i] = F32ToF16(v);

    /// <summary>Writes an f16 element narrowed by <see cref="F32ToHalf"/>.</summary>
    public static void StoreHalf(ArrayView<ushort> view, long i, float v) => view[i] = F32ToHalf(v);

    /// <summary>Writes a bf16 element.</summary>
    public static void StoreBF16(ArrayView<ushort> view, long i, float v) => view[i] = F32ToBF16(v);

    /// <summary>Writes a bool element (nonzero is true).</summary>
    public static void StoreBool(ArrayView<byte> view, long i, float v) => view[i] = v != 0f ? (byte)1 : (byte)0;

    /// <summary>Exact widening of IEEE half bits.</summary>
    public static float F16ToF32(ushort x)
    {
        uint sign = (uint)(x & 0x8000) << 16;
        uint e = ((uint)x >> 10) & 0x1Fu;
        uint m = (uint)x & 0x3FFu;
        if (e == 0x1Fu) return Interop.IntAsFloat(sign | 0x7F800000u | (m << 13));
        if (e != 0u) return Interop.IntAsFloat(sign | ((e + 112u) << 23) | (m << 13));
        float s = m * 5.9604644775390625e-8f;
        return sign != 0u ? -s : s;
    }

    /// <summary>Narrowing to IEEE half bits, round to nearest even (overflow to infinity, subnormals, quiet NaN).</summary>
    public static ushort F32ToF16(float v)
    {
        uint x = Interop.FloatAsInt(v);
        uint sign = (x >> 16) & 0x8000u;
        uint ax = x & 0x7FFFFFFFu;
        if (ax > 0x7F800000u) return (ushort)(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
        if (ax >= 0x477FF000u) return (ushort)(sign | 0x7C00u);
        if (ax < 0x38800000u)
        {
            uint e = ax >> 23;
            if (e < 102u) return (ushort)sign;
            uint m = (ax & 0x7FFFFFu) | 0x800000u;
            int shift = (int)(126u - e);
            uint r = m >> shift;
            uint rest = m & ((1u << shift) - 1u);
            uint half = 1u << (shift - 1);
            if (rest > half || (rest == half && (r & 1u) != 0u)) r += 1u;
            return (ushort)(sign | r);
        }

        uint n = ax - 0x38000000u;
        n += 0xFFFu + ((n >> 13) & 1u);
        return (ushort)(sign | (n >> 13));
    }

    /// <summary>
    /// Widening of IEEE half bits by ILGPU's half conversion: one <c>cvt.f32.f16</c> on CUDA (exact, as
    /// <see cref="F16ToF32"/>); devices without half support (OpenCL without cl_khr_fp16) do not take it.
    /// </summary>
    public static float HalfToF32(ushort x) => (float)Interop.IntAsFloat(x);

    /// <summary>
    /// Narrowing to IEEE half bits with the results of <see cref="F32ToF16"/> (round to nearest even, overflow to
    /// infinity, subnormals, quiet NaN) in a few integer operations and no loop or variable shift: a subnormal result is
    /// rounded by the float addition of 0.5 (whose ulp is the smallest half subnormal), the normal range by adding
    /// 0xFFF plus the kept mantissa's lowest bit (its carry runs into the exponent and, past 65504, to infinity).
    /// </summary>
    public static ushort F32ToHalf(float v)
    {
        uint x = Interop.FloatAsInt(v);
        uint sign = (x >> 16) & 0x8000u;
        uint ax = x & 0x7FFFFFFFu;
        uint o;
        if (ax >= 0x47800000u)
        {
            o = ax > 0x7F800000u ? 0x7E00u | ((ax >> 13) & 0x3FFu) : 0x7C00u;
        }
        else if (ax < 0x38800000u)
        {
            o = Interop.FloatAsInt(Interop.IntAsFloat(ax) + 0.5f) - 0x3F000000u;
        }
        else
        {
            o = (ax + 0xC8000FFFu + ((ax >> 13) & 1u)) >> 13;
        }

        return (ushort)(sign | o);
    }

    /// <summary>Two floats narrowed by <see cref="F32ToHalf"/> and packed, <paramref name="lo"/> in bits 0..15.</summary>
    public static uint PackHalf2(float lo, float hi) => F32ToHalf(lo) | ((uint)F32ToHalf(hi) << 16);

    /// <summary>Widening of bfloat16 bits.</summary>
    public static float BF16ToF32(ushort x) => Interop.IntAsFloat((uint)x << 16);

    /// <summary>Narrowing to bfloat16 bits, round to nearest even (quiet NaN).</summary>
    public static ushort F32ToBF16(float v)
    {
        uint x = Interop.FloatAsInt(v);
        if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((x >> 16) | 0x40u);
        return (ushort)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
    }

    /// <summary>Rounds through f16.</summary>
    public static float RoundF16(float v) => F16ToF32(F32ToF16(v));

    /// <summary>Rounds through f16 by <see cref="F32ToHalf"/> and <see cref="HalfToF32"/> (the result of <see cref="RoundF16"/>).</summary>
    public static float RoundHalf(float v) => HalfToF32(F32ToHalf(v));

    /// <summary>Rounds through bf16.</summary>
    public static float RoundBF16(float v) => BF16ToF32(F32ToBF16(v));

    /// <summary>0 or 1.</summary>
    public static float ToBool(float v) => v != 0f ? 1f : 0f;

    /// <summary>-x.</summary>
    public static float Neg(float x) => -x;

    /// <summary>|x|.</summary>
    public static float Abs(float x) => Math.Abs(x);

    /// <summary>e^x.</summary>
    public static float Exp(float x) => MathF.Exp(x);

    /// <summary>ln x.</summary>
    public static float Log(float x) => MathF.Log(x);

    /// <summary>√x.</summary>
    public static float Sqrt(float x) => MathF.Sqrt(x);

    /// <summary>1/√x.</summary>
    public static float Rsqrt(float x) => 1f / MathF.Sqrt(x);

    /// <summary>sin x.</summary>
    public static float Sin(float x) => MathF.Sin(x);

    /// <summary>cos x.</summary>
    public static float Cos(float x) => MathF.Cos(x);

    /// <summary>tanh x.</summary>
    public static float Tanh(float x) => MathF.Tanh(x);

    /// <summary>1/(1+e^-x).</summary>
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>max(x, 0).</summary>
    public static float Relu(float x) => x < 0f ? 0f : x;

    /// <summary>x·sigmoid(x).</summary>
    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    /// <summary>The error function (|x| &lt; 0.5: Taylor series; else Abramowitz–Stegun 7.1.26), as the CPU kernels.</summary>
    public static float Erf(float x)
    {
        if (float.IsNaN(x)) return x;
        float ax = Math.Abs(x);
        if (ax < 0.5f)
        {
            float x2 = x * x;
            float s = (x2 * (-1f / 1320f)) + (1f / 216f);
            s = (x2 * s) + (-1f / 42f);
            s = (x2 * s) + (1f / 10f);
            s = (x2 * s) + (-1f / 3f);
            s = (x2 * s) + 1f;
            return x * s * 1.1283791670955126f;
        }

        float t = 1f / ((0.3275911f * ax) + 1f);
        float r = (t * 1.061405429f) + -1.453152027f;
        r = (t * r) + 1.421413741f;
        r = (t * r) + -0.284496736f;
        r = (t * r) + 0.254829592f;
        r *= t;
        float y = 1f - (r * MathF.Exp(-(ax * ax)));
        return x < 0f ? -y : y;
    }

    /// <summary>x·Φ(x) with the exact (erf) form.</summary>
    public static float Gelu(float x) => 0.5f * x * (1f + Erf(x * 0.70710677f));

    /// <summary>The tanh approximation of gelu.</summary>
    public static float GeluTanh(float x)
    {
        float u = 0.7978846f * ((0.044715f * (x * x) * x) + x);
        return x / (1f + MathF.Exp(-2f * u));
    }

    /// <summary>ln(1+e^x), x above 20 returned as is.</summary>
    public static float Softplus(float x)
    {
        if (x > 20f) return x;
        float e = MathF.Exp(-Math.Abs(x));
        float w = 1f + e;
        float d = w - 1f;
        float l = d == 0f ? e : MathF.Log(w) * e / d;
        return (x < 0f ? 0f : x) + l;
    }

    /// <summary>x·tanh(softplus(x)).</summary>
    public static float Mish(float x) => x * MathF.Tanh(Softplus(x));

    /// <summary>floor x.</summary>
    public static float Floor(float x) => MathF.Floor(x);

    /// <summary>ceil x.</summary>
    public static float Ceil(float x) => MathF.Ceiling(x);

    /// <summary>Round half to even.</summary>
    public static float Round(float x)
    {
        float a = Math.Abs(x);
        if (!(a < 8388608f)) return x;
        float r = MathF.Floor(a);
        float d = a - r;
        if (d > 0.5f || (d == 0.5f && (r - (2f * MathF.Floor(r * 0.5f))) != 0f)) r += 1f;
        return x < 0f || (x == 0f && Interop.FloatAsInt(x) != 0u) ? -r : r;
    }

    /// <summary>The sign (NaN stays NaN).</summary>
    public static float Sign(float x) => x > 0f ? 1f : (x < 0f ? -1f : (float.IsNaN(x) ? x : 0f));

    /// <summary>1/x.</summary>
    public static float Reciprocal(float x) => 1f / x;

    /// <summary>Logical not.</summary>
    public static float LogicalNot(float x) => x == 0f ? 1f : 0f;

    /// <summary>a+b.</summary>
    public static float Add(float a, float b) => a + b;

    /// <summary>a-b.</summary>
    public static float Sub(float a, float b) => a - b;

    /// <summary>a·b.</summary>
    public static float Mul(float a, float b) => a * b;

    /// <summary>a/b.</summary>
    public static float Div(float a, float b) => a / b;

    /// <summary>C fmod (truncated remainder).</summary>
    public static float Fmod(float a, float b) => a - (b * MathF.Truncate(a / b));

    /// <summary>Python floor division.</summary>
    public static float FloorDiv(float a, float b)
    {
        if (b == 0f) return a / b;
        float m = Fmod(a, b);
        float d = (a - m) / b;
        if (m != 0f && ((b < 0f) != (m < 0f))) d -= 1f;
        if (d == 0f) return (a / b) < 0f ? -0f : 0f;
        float r = MathF.Floor(d);
        if (d - r > 0.5f) r += 1f;
        return r;
    }

    /// <summary>Python remainder (sign of the divisor).</summary>
    public static float Remainder(float a, float b)
    {
        float m = Fmod(a, b);
        if (m != 0f && ((b < 0f) != (m < 0f))) m += b;
        return m;
    }

    /// <summary>a^b.</summary>
    public static float Pow(float a, float b) => MathF.Pow(a, b);

    /// <summary>NaN-propagating maximum (+0 above -0).</summary>
    public static float Maximum(float a, float b)
    {
        if (float.IsNaN(a)) return a;
        if (float.IsNaN(b)) return b;
        if (a == b) return Interop.FloatAsInt(a) == 0x80000000u ? b : a;
        return a > b ? a : b;
    }

    /// <summary>NaN-propagating minimum (-0 below +0).</summary>
    public static float Minimum(float a, float b)
    {
        if (float.IsNaN(a)) return a;
        if (float.IsNaN(b)) return b;
        if (a == b) return Interop.FloatAsInt(a) == 0x80000000u ? a : b;
        return a < b ? a : b;
    }

    /// <summary>a == b.</summary>
    public static float Eq(float a, float b) => a == b ? 1f : 0f;

    /// <summary>a != b.</summary>
    public static float Ne(float a, float b) => a != b ? 1f : 0f;

    /// <summary>a &lt; b.</summary>
    public static float Lt(float a, float b) => a < b ? 1f : 0f;

    /// <summary>a &lt;= b.</summary>
    public static float Le(float a, float b) => a <= b ? 1f : 0f;

    /// <summary>a &gt; b.</summary>
    public static float Gt(float a, float b) => a > b ? 1f : 0f;

    /// <summary>a &gt;= b.</summary>
    public static float Ge(float a, float b) => a >= b ? 1f : 0f;

    /// <summary>Logical and.</summary>
    public static float LogicalAnd(float a, float b) => a != 0f && b != 0f ? 1f : 0f;

    /// <summary>Logical or.</summary>
    public static float LogicalOr(float a, float b) => a != 0f || b != 0f ? 1f : 0f;

    /// <summary>c ? a : b.</summary>
    public static float Where(float c, float a, float b) => c != 0f ? a : b;
}
