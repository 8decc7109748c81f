using Candle.Compiler.Backends.Reference;

namespace Candle.Compiler.Tests.Reference;

public class ReferenceMathTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(1.5, 0.9661051464753108)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(4.0, 0.9999999845827421)]
    [InlineData(5.0, 0.9999999999984626)]
    [InlineData(10.0, 1.0)]
    public void ErfMatchesTableValues(double x, double expected)
    {
        Assert.Equal(expected, ReferenceMath.Erf(x), 1e-15);
        Assert.Equal(-expected, ReferenceMath.Erf(-x), 1e-15);
    }

    [Fact]
    public void ErfIsAccurateNearZeroAndHandlesSpecialValues()
    {
        // erf(x) ≈ 2x/√π (1 − x²/3) for tiny x
        double x = 1e-8;
        Assert.Equal(2 * x / Math.Sqrt(Math.PI), ReferenceMath.Erf(x), 1e-22);
        Assert.Equal(1.0, ReferenceMath.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, ReferenceMath.Erf(double.NegativeInfinity));
        Assert.True(double.IsNaN(ReferenceMath.Erf(double.NaN)));
    }

    [Fact]
    public void ErfIsContinuousAndMonotoneAcrossItsBranches()
    {
        double prev = -1;
        for (double x = -7; x <= 7; x += 0.001)
        {
            double e = ReferenceMath.Erf(x);
            Assert.True(e >= prev, $"erf decreased at {x}");
            prev = e;
        }

        Assert.Equal(ReferenceMath.Erf(3 - 1e-12), ReferenceMath.Erf(3 + 1e-12), 1e-15);
    }

    [Fact]
    public void ErfDerivativeIsTheGaussian()
    {
        foreach (double x in new[] { 0.3, 1.2, 2.5, 2.99, 3.01, 4.0 })
        {
            const double h = 1e-5;
            double numeric = (ReferenceMath.Erf(x + h) - ReferenceMath.Erf(x - h)) / (2 * h);
            Assert.Equal(2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x), numeric, 1e-9);
        }
    }

    [Theory]
    [InlineData(-7L, 2L, -4L, 1L)]
    [InlineData(7L, -2L, -4L, -1L)]
    [InlineData(-7L, -2L, 3L, -1L)]
    [InlineData(7L, 2L, 3L, 1L)]
    [InlineData(6L, 3L, 2L, 0L)]
    [InlineData(-6L, 3L, -2L, 0L)]
    [InlineData(long.MinValue, -1L, long.MinValue, 0L)]
    public void IntegerFloorDivisionAndRemainderFollowPython(long a, long b, long q, long r)
    {
        Assert.Equal(q, ReferenceMath.FloorDivide(a, b));
        Assert.Equal(r, ReferenceMath.Remainder(a, b));
    }

    [Theory]
    [InlineData(-7.0, 2.0, -4.0, 1.0)]
    [InlineData(7.0, -2.0, -4.0, -1.0)]
    [InlineData(7.5, -2.0, -4.0, -0.5)]
    [InlineData(-7.5, 2.0, -4.0, 0.5)]
    [InlineData(1.0, 0.1, 9.0, 0.09999999999999995)]
    public void FloatFloorDivisionAndRemainderFollowPython(double a, double b, double q, double r)
    {
        Assert.Equal(q, ReferenceMath.FloorDivide(a, b));
        Assert.Equal(r, ReferenceMath.Remainder(a, b), 1e-15);
    }

    [Fact]
    public void FloatDivisionByZeroFollowsIeee()
    {
        Assert.Equal(double.PositiveInfinity, ReferenceMath.FloorDivide(5.0, 0.0));
        Assert.True(double.IsNaN(ReferenceMath.Remainder(5.0, 0.0)));
    }

    [Fact]
    public void IntegerPowerWrapsAndRejectsNegativeExponents()
    {
        Assert.Equal(1024L, ReferenceMath.Power(2, 10));
        Assert.Equal(-27L, ReferenceMath.Power(-3, 3));
        Assert.Equal(1L, ReferenceMath.Power(5, 0));
        Assert.Equal(0L, ReferenceMath.Power(2, 64)); // wraps modulo 2^64
        Assert.Throws<ArithmeticException>(() => ReferenceMath.Power(2, -1));
        Assert.Throws<DivideByZeroException>(() => ReferenceMath.FloorDivide(1L, 0L));
    }

    [Fact]
    public void TruncationFollowsTheX86Conversion()
    {
        Assert.Equal(-2L, ReferenceMath.TruncateToInt64(-2.9));
        Assert.Equal(2L, ReferenceMath.TruncateToInt64(2.9));
        Assert.Equal(long.MinValue, ReferenceMath.TruncateToInt64(double.NaN));
        Assert.Equal(long.MinValue, ReferenceMath.TruncateToInt64(double.PositiveInfinity));
        Assert.Equal(long.MinValue, ReferenceMath.TruncateToInt64(1e30));
    }
}
