using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>
/// The error function. Reference: accurate to a few units in the last place of a double (a positive-term power
/// series below |x| = 3, a continued fraction for erfc above). Lanes (vector bodies and scalar tails alike):
/// absolute error below 2e-7 (Abramowitz–Stegun 7.1.26 above |x| = 0.5, a Taylor series below). Also the erf of
/// <see cref="GeluOp"/>.
/// </summary>
public readonly struct ErfOp : IUnaryOp
{
    private const double TwoOverSqrtPi = 1.1283791670955125738961589031215452;
    private const double OneOverSqrtPi = 0.5641895835477562869480794515607726;

    /// <inheritdoc/>
    public static int Code => 14;

    /// <inheritdoc/>
    public static string Name => "erf";

    /// <inheritdoc/>
    public static double Invoke(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = Math.Abs(x);
        double r = a < 3.0 ? ErfSeries(a) : a >= 6.5 ? 1.0 : 1.0 - ErfcContinuedFraction(a);
        return x < 0 ? -r : r;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var one = TLanes.Splat(1f);
        var ax = TLanes.Abs(x);
        var t = TLanes.Div(one, TLanes.Fma(TLanes.Splat(0.3275911f), ax, one));
        var p = TLanes.Fma(t, TLanes.Splat(1.061405429f), TLanes.Splat(-1.453152027f));
        p = TLanes.Fma(t, p, TLanes.Splat(1.421413741f));
        p = TLanes.Fma(t, p, TLanes.Splat(-0.284496736f));
        p = TLanes.Fma(t, p, TLanes.Splat(0.254829592f));
        p = TLanes.Mul(p, t);
        var big = TLanes.Sub(one, TLanes.Mul(p, TLanes.Exp(TLanes.Neg(TLanes.Mul(ax, ax)))));
        big = TLanes.CopySign(big, x);
        var x2 = TLanes.Mul(x, x);
        var s = TLanes.Fma(x2, TLanes.Splat(-1f / 1320f), TLanes.Splat(1f / 216f));
        s = TLanes.Fma(x2, s, TLanes.Splat(-1f / 42f));
        s = TLanes.Fma(x2, s, TLanes.Splat(1f / 10f));
        s = TLanes.Fma(x2, s, TLanes.Splat(-1f / 3f));
        s = TLanes.Fma(x2, s, one);
        var small = TLanes.Mul(TLanes.Mul(x, s), TLanes.Splat(1.1283791670955126f));
        var r = TLanes.Select(TLanes.LessThan(ax, TLanes.Splat(0.5f)), small, big);
        return TLanes.Select(TLanes.Equal(x, x), r, x);
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
