using System.Numerics.Tensors;
using Candle.Compiler.Ir;
using Candle.Runtime;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class NormalizationTests
{
    [Fact]
    public void SoftmaxMatchesTensorPrimitivesPerRow()
    {
        var v = Rand(3 * 7, 42, 5);
        var r = D(Run(i => IrBuilder.Softmax(i[0], -1), F32(v, 3, 7)));
        for (int row = 0; row < 3; row++)
        {
            var expected = new float[7];
            TensorPrimitives.SoftMax(v.AsSpan(row * 7, 7), expected);
            Close(expected, r.Skip(row * 7).Take(7).ToArray(), 1e-6);
        }
    }

    [Fact]
    public void SoftmaxAlongTheFirstAxis()
    {
        // columns [0, ln 3] → [1/4, 3/4]
        var r = D(Run(i => IrBuilder.Softmax(i[0], 0), F64([0, 0, Math.Log(3), Math.Log(3)], 2, 2)));
        Close(new[] { 0.25, 0.25, 0.75, 0.75 }, r, 1e-15);
    }

    [Fact]
    public void SoftmaxIsStableAndFullyMaskedRowsAreNaN()
    {
        var r = D(Run(i => IrBuilder.Softmax(i[0], 1), F32([1000, 1000, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, 0], 3, 2)));
        Assert.Equal(new[] { 0.5, 0.5 }, r.Take(2));
        Assert.True(double.IsNaN(r[2]) && double.IsNaN(r[3]));
        Assert.Equal(new[] { 0.0, 1 }, r.Skip(4));
    }

    [Fact]
    public void SoftmaxRowsSumToOne()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 40], Gen.Int[0, 1000]).Sample((rows, cols, seed) =>
        {
            var r = D(Run(i => IrBuilder.Softmax(i[0], 1), F32(Rand(rows * cols, seed, 20), rows, cols)));
            for (int row = 0; row < rows; row++)
            {
                Assert.Equal(1.0, r.Skip(row * cols).Take(cols).Sum(), 1e-6);
                Assert.All(r.Skip(row * cols).Take(cols), p => Assert.InRange(p, 0, 1));
            }
        }, iter: 40);
    }

    [Fact]
    public void LogSoftmaxIsLogOfSoftmax()
    {
        var r = D(Run(i => IrBuilder.LogSoftmax(i[0], 0), F64([0, Math.Log(3)], 2)));
        Close(new[] { Math.Log(0.25), Math.Log(0.75) }, r, 1e-15);
        var big = D(Run(i => IrBuilder.LogSoftmax(i[0], 0), F32([1000, 0], 2)));
        Assert.Equal(0.0, big[0], 1e-6);
        Assert.Equal(-1000.0, big[1], 1e-3);
    }

    [Fact]
    public void LayerNormHandComputed()
    {
        // x = [1, 2, 3, 4]: mean 2.5, biased variance 1.25
        double inv = 1 / Math.Sqrt(1.25 + 1e-5);
        var x = F64([1, 2, 3, 4], 1, 4);
        var plain = D(Run(i => IrBuilder.LayerNorm(i[0], null, null, 1e-5), x));
        Close(new[] { -1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv }, plain, 1e-14);
        var affine = D(Run(i => IrBuilder.LayerNorm(i[0], i[1], i[2], 1e-5), x, F64([1, 2, 3, 4], 4), F64([0, 0, 1, 1], 4)));
        Close(new[] { -1.5 * inv, -1 * inv, (1.5 * inv) + 1, (6 * inv) + 1 }, affine, 1e-14);
        var biasOnly = D(Run(i => IrBuilder.LayerNorm(i[0], null, i[1], 1e-5), x, F64([10, 10, 10, 10], 4)));
        Close(new[] { 10 - (1.5 * inv), 10 - (0.5 * inv), 10 + (0.5 * inv), 10 + (1.5 * inv) }, biasOnly, 1e-14);
    }

    [Fact]
    public void LayerNormOutputHasMeanZeroAndVarianceOne()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[2, 8], Gen.Int[1, 3], Gen.Int[0, 1000]).Sample((rows, a, b, seed) =>
        {
            var r = D(Run(i => IrBuilder.LayerNorm(i[0], null, null, 0, normalizedDims: 2), F32(Rand(rows * a * b, seed, 3), rows, a, b)));
            int n = a * b;
            for (int row = 0; row < rows; row++)
            {
                var seg = r.Skip(row * n).Take(n).ToArray();
                double mean = seg.Average();
                Assert.Equal(0, mean, 1e-5);
                Assert.Equal(1, seg.Select(v => (v - mean) * (v - mean)).Average(), 1e-4);
            }
        }, iter: 30);
    }

    [Fact]
    public void RmsNormHandComputed()
    {
        // x = [3, 4]: mean of squares 12.5
        var r = D(Run(i => IrBuilder.RmsNorm(i[0], i[1], 0.5), F64([3, 4], 1, 2), F64([1, 2], 2)));
        Close(new[] { 3 / Math.Sqrt(13), 8 / Math.Sqrt(13) }, r, 1e-15);
        var noWeight = D(Run(i => IrBuilder.RmsNorm(i[0], null, 0), F32([3, 4], 2)));
        Close(new[] { 3 / Math.Sqrt(12.5), 4 / Math.Sqrt(12.5) }, noWeight, 1e-6);
    }

    [Fact]
    public void GroupNormNormalizesEachGroupOfChannels()
    {
        // x [1, 4, 2], 2 groups: group 0 = channels 0..1 = [1, 2, 3, 4], group 1 = channels 2..3 = [10, 10, 20, 20]
        var x = F64([1, 2, 3, 4, 10, 10, 20, 20], 1, 4, 2);
        var w = F64([1, 1, 2, 2], 4);
        var b = F64([0, 1, 0, 1], 4);
        var r = D(Run(i => IrBuilder.GroupNorm(i[0], 2, i[1], i[2], 0), x, w, b));
        double s0 = 1 / Math.Sqrt(1.25); // group 0: mean 2.5, var 1.25
        // group 1: mean 15, var 25 → ±1; weight 2 for channels 2, 3; bias 1 on channel 3
        Close(new[] { -1.5 * s0, -0.5 * s0, (0.5 * s0) + 1, (1.5 * s0) + 1, -2, -2, 2 + 1, 2 + 1 }, r, 1e-14);
    }

    public static TheoryData<DType> FloatTypes => [DType.F32, DType.F16, DType.BF16, DType.F64];

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void NormsKeepTheDType(DType dt)
    {
        var x = Of(dt, [1, 2, 3, 4], 1, 4);
        var r = Run(i => IrBuilder.LayerNorm(i[0], null, null, 0), x);
        Assert.Equal(dt, r.DType);
        double inv = 1 / Math.Sqrt(1.25);
        double tol = dt is DType.F16 ? 1e-3 : dt is DType.BF16 ? 1e-2 : 1e-6;
        Close(new[] { -1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv }, D(r), tol);
        var s = Run(i => IrBuilder.Softmax(i[0], 1), x);
        Assert.Equal(dt, s.DType);
        Assert.Equal(1.0, D(s).Sum(), tol * 4);
    }
}
