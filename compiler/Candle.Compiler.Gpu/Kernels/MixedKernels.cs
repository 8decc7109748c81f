using Candle.Compiler.Ir;
using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Single elementwise ops outside the float domain of the generated kernels: integer and boolean operands or results
/// (comparisons of int64 labels, <c>where</c> over masks, casts between integers and floats). A value is computed in
/// <c>float</c> when the result or an operand is a float type and in 64-bit integers otherwise, as the CPU
/// runtime's <c>rt:elementwise</c> and the Metal renderer's mixed kernels do. Operands are strided views over a
/// padded six-dim shape <c>s0..s5</c> (only <c>s1..s5</c> are needed to split an index); the output is dense. The op
/// is an <see cref="Op"/> value; <see cref="Supports"/> tells which.
/// </summary>
internal static class MixedKernels
{
    /// <summary>Dims of the padded shape.</summary>
    public const int Rank = 6;

    /// <summary>
    /// Whether <paramref name="op"/> has a mixed kernel with <paramref name="arity"/> operands, computed in floats or
    /// (<paramref name="floatDomain"/> false) in 64-bit integers, where true division has no form.
    /// </summary>
    public static bool Supports(Op op, int arity, bool floatDomain) => (floatDomain || op != Op.Div) && arity switch
    {
        1 => op is Op.Cast or Op.Neg or Op.Abs or Op.Relu or Op.Sign or Op.LogicalNot,
        2 => op is Op.Add or Op.Sub or Op.Mul or Op.Div or Op.FloorDiv or Op.Remainder or Op.Maximum or Op.Minimum
            or Op.Eq or Op.Ne or Op.Lt or Op.Le or Op.Gt or Op.Ge or Op.LogicalAnd or Op.LogicalOr,
        3 => op is Op.Where,
        _ => false,
    };

    /// <summary>y[i] = op(a[..]).</summary>
    public static void Unary<TY, SY, TA, SA>(
        Index1D index, ArrayView<TY> y, ArrayView<TA> a, int op, int floatDomain, int boolOut,
        long s1, long s2, long s3, long s4, long s5,
        long aOff, long a0, long a1, long a2, long a3, long a4, long a5)
        where TY : unmanaged
        where SY : struct, IMixedStorage<TY>
        where TA : unmanaged
        where SA : struct, IMixedStorage<TA>
    {
        long i = index.X;
        long ai = StridedIndex.Offset(i, s1, s2, s3, s4, s5, aOff, a0, a1, a2, a3, a4, a5);
        if (floatDomain != 0)
        {
            default(SY).StoreFloat(y, i, FloatOp(op, default(SA).LoadFloat(a, ai), 0f, 0f));
        }
        else
        {
            default(SY).StoreLong(y, i, LongOp(op, boolOut, default(SA).LoadLong(a, ai), 0, 0));
        }
    }

    /// <summary>y[i] = op(a[..], b[..]).</summary>
    public static void Binary<TY, SY, TA, SA, TB, SB>(
        Index1D index, ArrayView<TY> y, ArrayView<TA> a, ArrayView<TB> b, int op, int floatDomain, int boolOut,
        long s1, long s2, long s3, long s4, long s5,
        long aOff, long a0, long a1, long a2, long a3, long a4, long a5,
        long bOff, long b0, long b1, long b2, long b3, long b4, long b5)
        where TY : unmanaged
        where SY : struct, IMixedStorage<TY>
        where TA : unmanaged
        where SA : struct, IMixedStorage<TA>
        where TB : unmanaged
        where SB : struct, IMixedStorage<TB>
    {
        long i = index.X;
        long ai = StridedIndex.Offset(i, s1, s2, s3, s4, s5, aOff, a0, a1, a2, a3, a4, a5);
        long bi = StridedIndex.Offset(i, s1, s2, s3, s4, s5, bOff, b0, b1, b2, b3, b4, b5);
        if (floatDomain != 0)
        {
            default(SY).StoreFloat(y, i, FloatOp(op, default(SA).LoadFloat(a, ai), default(SB).LoadFloat(b, bi), 0f));
        }
        else
        {
            default(SY).StoreLong(y, i, LongOp(op, boolOut, default(SA).LoadLong(a, ai), default(SB).LoadLong(b, bi), 0));
        }
    }

    /// <summary>y[i] = op(a[..], b[..], c[..]) (<c>where</c>).</summary>
    public static void Ternary<TY, SY, TA, SA, TB, SB, TC, SC>(
        Index1D index, ArrayView<TY> y, ArrayView<TA> a, ArrayView<TB> b, ArrayView<TC> c, int op, int floatDomain, int boolOut,
        long s1, long s2, long s3, long s4, long s5,
        long aOff, long a0, long a1, long a2, long a3, long a4, long a5,
        long bOff, long b0, long b1, long b2, long b3, long b4, long b5,
        long cOff, long c0, long c1, long c2, long c3, long c4, long c5)
        where TY : unmanaged
        where SY : struct, IMixedStorage<TY>
        where TA : unmanaged
        where SA : struct, IMixedStorage<TA>
        where TB : unmanaged
        where SB : struct, IMixedStorage<TB>
        where TC : unmanaged
        where SC : struct, IMixedStorage<TC>
    {
        long i = index.X;
        long ai = StridedIndex.Offset(i, s1, s2, s3, s4, s5, aOff, a0, a1, a2, a3, a4, a5);
        long bi = StridedIndex.Offset(i, s1, s2, s3, s4, s5, bOff, b0, b1, b2, b3, b4, b5);
        long ci = StridedIndex.Offset(i, s1, s2, s3, s4, s5, cOff, c0, c1, c2, c3, c4, c5);
        if (floatDomain != 0)
        {
            float r = FloatOp(op, default(SA).LoadFloat(a, ai), default(SB).LoadFloat(b, bi), default(SC).LoadFloat(c, ci));
            default(SY).StoreFloat(y, i, r);
        }
        else
        {
            long r = LongOp(op, boolOut, default(SA).LoadLong(a, ai), default(SB).LoadLong(b, bi), default(SC).LoadLong(c, ci));
            default(SY).StoreLong(y, i, r);
        }
    }

    /// <summary>An op over floats; comparisons and logical ops give 0 or 1.</summary>
    private static float FloatOp(int op, float a, float b, float c)
    {
        switch (op)
        {
            case (int)Op.Neg: return -a;
            case (int)Op.Abs: return a < 0 ? -a : a;
            case (int)Op.Relu: return a < 0 ? 0f : a;
            case (int)Op.Sign: return a > 0 ? 1f : a < 0 ? -1f : a;
            case (int)Op.Add: return a + b;
            case (int)Op.Sub: return a - b;
            case (int)Op.Mul: return a * b;
            case (int)Op.Div: return a / b;
            case (int)Op.FloorDiv: return GpuMath.FloorDiv(a, b);
            case (int)Op.Remainder: return GpuMath.Remainder(a, b);
            case (int)Op.Maximum: return GpuMath.Maximum(a, b);
            case (int)Op.Minimum: return GpuMath.Minimum(a, b);
            case (int)Op.Eq: return a == b ? 1f : 0f;
            case (int)Op.Ne: return a != b ? 1f : 0f;
            case (int)Op.Lt: return a < b ? 1f : 0f;
            case (int)Op.Le: return a <= b ? 1f : 0f;
            case (int)Op.Gt: return a > b ? 1f : 0f;
            case (int)Op.Ge: return a >= b ? 1f : 0f;
            case (int)Op.LogicalNot: return a == 0f ? 1f : 0f;
            case (int)Op.LogicalAnd: return a != 0f && b != 0f ? 1f : 0f;
            case (int)Op.LogicalOr: return a != 0f || b != 0f ? 1f : 0f;
            case (int)Op.Where: return a != 0f ? b : c;
            default: return a;
        }
    }

    /// <summary>
    /// An op over 64-bit integers (Python floor division and remainder, zero for a zero divisor); comparisons and
    /// logical ops give 0 or 1, and sums and products of booleans are their <c>or</c> and <c>and</c>.
    /// </summary>
    private static long LongOp(int op, int boolOut, long a, long b, long c)
    {
        switch (op)
        {
            case (int)Op.Neg: return -a;
            case (int)Op.Abs: return a < 0 ? -a : a;
            case (int)Op.Relu: return a < 0 ? 0 : a;
            case (int)Op.Sign: return a > 0 ? 1 : a < 0 ? -1 : 0;
            case (int)Op.Add: return boolOut != 0 ? (a != 0 || b != 0 ? 1 : 0) : a + b;
            case (int)Op.Sub: return a - b;
            case (int)Op.Mul: return boolOut != 0 ? (a != 0 && b != 0 ? 1 : 0) : a * b;
            case (int)Op.FloorDiv:
                if (b == 0) return 0;
                return (a / b) - ((a % b) != 0 && ((a < 0) != (b < 0)) ? 1 : 0);
            case (int)Op.Remainder:
                if (b == 0) return 0;
                long r = a % b;
                return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
            case (int)Op.Maximum: return a > b ? a : b;
            case (int)Op.Minimum: return a < b ? a : b;
            case (int)Op.Eq: return a == b ? 1 : 0;
            case (int)Op.Ne: return a != b ? 1 : 0;
            case (int)Op.Lt: return a < b ? 1 : 0;
            case (int)Op.Le: return a <= b ? 1 : 0;
            case (int)Op.Gt: return a > b ? 1 : 0;
            case (int)Op.Ge: return a >= b ? 1 : 0;
            case (int)Op.LogicalNot: return a == 0 ? 1 : 0;
            case (int)Op.LogicalAnd: return a != 0 && b != 0 ? 1 : 0;
            case (int)Op.LogicalOr: return a != 0 || b != 0 ? 1 : 0;
            case (int)Op.Where: return a != 0 ? b : c;
            default: return a;
        }
    }
}
