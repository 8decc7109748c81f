namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Double-precision definitions of the elementwise ops, used by the scalar fallback kernels.</summary>
public static class ScalarMath
{
    /// <summary>
    /// The error function (W. J. Cody's rational approximations as in fdlibm's erf; absolute error below 1e-15).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 0.5)
        {
            double t = x * x;
            double top = (((((0.185777706184603153 * t) + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t) + 3209.37758913846947;
            double bot = ((((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t) + 2844.23683343917062;
            return x * top / bot;
        }

        return Math.CopySign(1 - Erfc(ax), x);
    }

    private static double Erfc(double ax)
    {
        if (ax > 27) return 0;
        double r;
        if (ax < 4)
        {
            double top = (((((((((2.15311535474403846e-8 * ax) + 0.564188496988670089) * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax + 298.635138197400131) * ax + 881.952221241769090) * ax + 1712.04761263407058) * ax + 2051.07837782607147) * ax) + 1230.33935479799725;
            double bot = (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax + 3290.79923573345963) * ax + 4362.61909014324716) * ax + 3439.36767414372164) * ax + 1230.33935480374942;
            r = top / bot;
        }
        else
        {
            double z = 1 / (ax * ax);
            double top = ((((0.0163153871373020978 * z) + 0.305326634961232344) * z + 0.360344899949804439) * z + 0.125781726111229246) * z + 0.0160837851487422766;
            double bot = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 0.527905102951428412) * z) + 0.0605183413124413191;
            r = (0.564189583547756287 - (z * top / bot)) / ax;
        }

        double xsq = Math.Truncate(ax * 16) / 16;
        double del = (ax - xsq) * (ax + xsq);
        return Math.Exp(-xsq * xsq) * Math.Exp(-del) * r;
    }

    /// <summary>Applies a unary op in double precision.</summary>
    public static double Unary(ElementwiseOp op, double x) => op switch
    {
        ElementwiseOp.Neg => -x,
        ElementwiseOp.Abs => Math.Abs(x),
        ElementwiseOp.Exp => Math.Exp(x),
        ElementwiseOp.Log => Math.Log(x),
        ElementwiseOp.Sqrt => Math.Sqrt(x),
        ElementwiseOp.Rsqrt => 1 / Math.Sqrt(x),
        ElementwiseOp.Sin => Math.Sin(x),
        ElementwiseOp.Cos => Math.Cos(x),
        ElementwiseOp.Tanh => Math.Tanh(x),
        ElementwiseOp.Sigmoid => 1 / (1 + Math.Exp(-x)),
        ElementwiseOp.Relu => double.IsNaN(x) ? x : Math.Max(x, 0),
        ElementwiseOp.Gelu => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        ElementwiseOp.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x)))),
        ElementwiseOp.Silu => x / (1 + Math.Exp(-x)),
        ElementwiseOp.Erf => Erf(x),
        ElementwiseOp.Floor => Math.Floor(x),
        ElementwiseOp.Ceil => Math.Ceiling(x),
        ElementwiseOp.Round => Math.Round(x, MidpointRounding.ToEven),
        ElementwiseOp.Sign => double.IsNaN(x) ? x : Math.Sign(x),
        ElementwiseOp.Reciprocal => 1 / x,
        ElementwiseOp.LogicalNot => x == 0 ? 1 : 0,
        ElementwiseOp.Cast => x,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not a unary op"),
    };

    /// <summary>Applies a binary op in double precision.</summary>
    public static double Binary(ElementwiseOp op, double a, double b) => op switch
    {
        ElementwiseOp.Add => a + b,
        ElementwiseOp.Sub => a - b,
        ElementwiseOp.Mul => a * b,
        ElementwiseOp.Div => a / b,
        ElementwiseOp.FloorDiv => Math.Floor(a / b),
        ElementwiseOp.Remainder => Remainder(a, b),
        ElementwiseOp.Pow => Math.Pow(a, b),
        ElementwiseOp.Maximum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
        ElementwiseOp.Minimum => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
        ElementwiseOp.Eq => a == b ? 1 : 0,
        ElementwiseOp.Ne => a != b ? 1 : 0,
        ElementwiseOp.Lt => a < b ? 1 : 0,
        ElementwiseOp.Le => a <= b ? 1 : 0,
        ElementwiseOp.Gt => a > b ? 1 : 0,
        ElementwiseOp.Ge => a >= b ? 1 : 0,
        ElementwiseOp.LogicalAnd => a != 0 && b != 0 ? 1 : 0,
        ElementwiseOp.LogicalOr => a != 0 || b != 0 ? 1 : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not a binary op"),
    };

    /// <summary>PyTorch's remainder: the result has the divisor's sign.</summary>
    public static double Remainder(double a, double b)
    {
        double r = a % b;
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }

    /// <summary>Applies an integer op exactly; returns false when the op has no integer form.</summary>
    public static bool TryInteger(ElementwiseOp op, long a, long b, out long r)
    {
        switch (op)
        {
            case ElementwiseOp.Neg: r = unchecked(-a); return true;
            case ElementwiseOp.Abs: r = Math.Abs(a); return true;
            case ElementwiseOp.Relu: r = Math.Max(a, 0); return true;
            case ElementwiseOp.Sign: r = Math.Sign(a); return true;
            case ElementwiseOp.Add: r = unchecked(a + b); return true;
            case ElementwiseOp.Sub: r = unchecked(a - b); return true;
            case ElementwiseOp.Mul: r = unchecked(a * b); return true;
            case ElementwiseOp.FloorDiv:
                if (b == 0) throw new DivideByZeroException("floor_div: integer division by zero");
                r = (a / b) - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
                return true;
            case ElementwiseOp.Remainder:
                if (b == 0) throw new DivideByZeroException("remainder: integer division by zero");
                r = a % b;
                if (r != 0 && (r < 0) != (b < 0)) r += b;
                return true;
            case ElementwiseOp.Maximum: r = Math.Max(a, b); return true;
            case ElementwiseOp.Minimum: r = Math.Min(a, b); return true;
            case ElementwiseOp.Eq: r = a == b ? 1 : 0; return true;
            case ElementwiseOp.Ne: r = a != b ? 1 : 0; return true;
            case ElementwiseOp.Lt: r = a < b ? 1 : 0; return true;
            case ElementwiseOp.Le: r = a <= b ? 1 : 0; return true;
            case ElementwiseOp.Gt: r = a > b ? 1 : 0; return true;
            case ElementwiseOp.Ge: r = a >= b ? 1 : 0; return true;
            default: r = 0; return false;
        }
    }
}
