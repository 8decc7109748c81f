namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// The per-element semantics of the IR's scalar functions, as the reference interpreter computes them
/// (in double for floats, in 64-bit integers for integer dtypes). Other backends may call these to match
/// the reference exactly, for instance in scalar tails or constant folding.
/// </summary>
public static class ReferenceMath
{
    private const double TwoOverSqrtPi = 1.1283791670955125738961589031215452;
    private const double OneOverSqrtPi = 0.5641895835477562869480794515607726;
    private const double SqrtHalf = 0.7071067811865475244008443621048490;
    private const double SqrtTwoOverPi = 0.7978845608028653558798921198687637;

    /// <summary>
    /// The error function erf(x), accurate to a few units in the last place: a positive-term power series
    /// below |x| = 3 and a continued fraction for erfc above.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = Math.Abs(x);
        double r = a < 3.0 ? ErfSeries(a) : a >= 6.5 ? 1.0 : 1.0 - ErfcContinuedFraction(a);
        return x < 0 ? -r : r;
    }

    /// <summary>Exact GELU: 0.5·x·(1 + erf(x/√2)).</summary>
    public static double Gelu(double x) => 0.5 * x * (1.0 + Erf(x * SqrtHalf));

    /// <summary>GELU's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static double GeluTanh(double x) => 0.5 * x * (1.0 + Math.Tanh(SqrtTwoOverPi * (x + (0.044715 * x * x * x))));

    /// <summary>The logistic function 1/(1+e^-x).</summary>
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>x·sigmoid(x).</summary>
    public static double Silu(double x) => x / (1.0 + Math.Exp(-x));

    /// <summary>−1, 0 or 1; NaN stays NaN.</summary>
    public static double Sign(double x) => double.IsNaN(x) ? x : x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;

    /// <summary>max(x, 0); NaN stays NaN.</summary>
    public static double Relu(double x) => double.IsNaN(x) ? x : x > 0 ? x : 0.0;

    /// <summary>
    /// PyTorch's floating floor division: floor(a/b) computed through fmod so that a == b·q + r holds with the
    /// remainder of <see cref="Remainder(double, double)"/>; division by zero gives the IEEE quotient.
    /// </summary>
    public static double FloorDivide(double a, double b)
    {
        if (b == 0) return a / b;
        double mod = a % b;
        double div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1.0;
        if (div == 0) return Math.CopySign(0.0, a / b);
        double q = Math.Floor(div);
        if (div - q > 0.5) q += 1.0;
        return q;
    }

    /// <summary>Python's modulo: a − b·floor(a/b), with the sign of the divisor (NaN for b = 0).</summary>
    public static double Remainder(double a, double b)
    {
        double mod = a % b;
        if (mod != 0 && (b < 0) != (mod < 0)) mod += b;
        return mod;
    }

    /// <summary>Integer floor division (rounds toward −∞); long.MinValue / −1 wraps to long.MinValue.</summary>
    /// <exception cref="DivideByZeroException"><paramref name="b"/> is zero.</exception>
    public static long FloorDivide(long a, long b)
    {
        if (b == 0) throw new DivideByZeroException("integer division by zero");
        if (b == -1) return unchecked(-a);
        long q = a / b;
        if (a % b != 0 && (a < 0) != (b < 0)) q--;
        return q;
    }

    /// <summary>Integer remainder with the sign of the divisor (Python's %).</summary>
    /// <exception cref="DivideByZeroException"><paramref name="b"/> is zero.</exception>
    public static long Remainder(long a, long b)
    {
        if (b == 0) throw new DivideByZeroException("integer division by zero");
        if (b == -1) return 0;
        long r = a % b;
        if (r != 0 && (r < 0) != (b < 0)) r += b;
        return r;
    }

    /// <summary>Integer power by repeated squaring, wrapping on overflow.</summary>
    /// <exception cref="ArithmeticException"><paramref name="exponent"/> is negative (PyTorch refuses it too).</exception>
    public static long Power(long value, long exponent)
    {
        if (exponent < 0)
        {
            throw new ArithmeticException($"integers to negative integer powers are not allowed ({value} ** {exponent})");
        }

        long result = 1;
        unchecked
        {
            while (exponent > 0)
            {
                if ((exponent & 1) != 0) result *= value;
                value *= value;
                exponent >>= 1;
            }
        }

        return result;
    }

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

    // erf(x) = 2/√π · e^{-x²} · Σ_{n≥0} 2ⁿ x^{2n+1} / (1·3·…·(2n+1)); every term is positive.
    private static double ErfSeries(double x)
    {
        double x2 = x * x;
        double term = x, sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= 2.0 * x2 / ((2 * n) + 1);
            sum += term;
            if (term <= sum * 1e-17) break;
        }

        return TwoOverSqrtPi * ExpMinusSquare(x) * sum;
    }

    // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated by the modified Lentz method.
    private static double ErfcContinuedFraction(double x)
    {
        const double Tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double an = n * 0.5;
            d = x + (an * d);
            if (d == 0) d = Tiny;
            c = x + (an / c);
            if (c == 0) c = Tiny;
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1.0) < 1e-17) break;
        }

        return OneOverSqrtPi * ExpMinusSquare(x) / f;
    }

    // e^{-x²} with x² split into an exact head and tail so the rounding of x² does not enter the exponent.
    private static double ExpMinusSquare(double x)
    {
        double hi = x * x;
        double lo = Math.FusedMultiplyAdd(x, x, -hi);
        return Math.Exp(-hi) * (1.0 - lo);
    }
}
