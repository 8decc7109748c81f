using Candle.Runtime.Kernels.Cpu.Ops;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// The per-element semantics of the IR's scalar functions, as the reference interpreter computes them
/// (in double for floats, in 64-bit integers for integer dtypes). The elementwise functions are the runtime
/// operator structs' reference forms (<c>Candle.Runtime.Kernels.Cpu.Ops</c>), named here for callers and tests.
/// </summary>
public static class ReferenceMath
{
    /// <summary>
    /// The error function erf(x), accurate to a few units in the last place: a positive-term power series
    /// below |x| = 3 and a continued fraction for erfc above.
    /// </summary>
    public static double Erf(double x) => ErfOp.Invoke(x);

    /// <summary>
    /// PyTorch's floating floor division: floor(a/b) computed through fmod so that a == b·q + r holds with the
    /// remainder of <see cref="Remainder(double, double)"/>; division by zero gives the IEEE quotient.
    /// </summary>
    public static double FloorDivide(double a, double b) => FloorDivOp.Invoke(a, b);

    /// <summary>Python's modulo: a − b·floor(a/b), with the sign of the divisor (NaN for b = 0).</summary>
    public static double Remainder(double a, double b) => RemainderOp.Invoke(a, b);

    /// <summary>Integer floor division (rounds toward −∞); long.MinValue / −1 wraps to long.MinValue.</summary>
    /// <exception cref="DivideByZeroException"><paramref name="b"/> is zero.</exception>
    public static long FloorDivide(long a, long b) => FloorDivOp.InvokeInteger(a, b);

    /// <summary>Integer remainder with the sign of the divisor (Python's %).</summary>
    /// <exception cref="DivideByZeroException"><paramref name="b"/> is zero.</exception>
    public static long Remainder(long a, long b) => RemainderOp.InvokeInteger(a, b);

    /// <summary>Integer power by repeated squaring, wrapping on overflow.</summary>
    /// <exception cref="ArithmeticException"><paramref name="exponent"/> is negative (PyTorch refuses it too).</exception>
    public static long Power(long value, long exponent) => PowOp.InvokeInteger(value, exponent);

    /// <summary>
    /// A double converted to a 64-bit integer by truncation toward zero; NaN, infinities and values out of
    /// range give long.MinValue (what x86's cvttsd2si returns, as PyTorch on CPU).
    /// </summary>
    public static long TruncateToInt64(double value)
    {
        if (double.IsNaN(value) || value >= 9.2233720368547758E18 || value < -9.2233720368547758E18)
        {
            return long.MinValue;
        }

        return (long)value;
    }
}
