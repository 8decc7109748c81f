using System.Numerics.Tensors;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class ReduceTests
{
    // [[1, 2, 3], [4, 5, 6]]
    private static readonly HostTensor M = F32([1, 2, 3, 4, 5, 6], 2, 3);

    private static HostTensor Reduce(Op op, HostTensor x, int[]? axes = null, bool keep = false) =>
        Run(i => IrBuilder.Reduce(op, i[0], axes, keep), x);

    [Fact]
    public void SumMeanProdMaxMinOverAxes()
    {
        Assert.Equal(new[] { 5.0, 7, 9 }, D(Reduce(Op.Sum, M, [0])));
        Assert.Equal(new[] { 6.0, 15 }, D(Reduce(Op.Sum, M, [1])));
        Assert.Equal(new[] { 21.0 }, D(Reduce(Op.Sum, M)));
        Assert.Equal(new[] { 2.0, 5 }, D(Reduce(Op.Mean, M, [-1])));
        Assert.Equal(new[] { 6.0, 120 }, D(Reduce(Op.Prod, M, [1])));
        Assert.Equal(new[] { 4.0, 5, 6 }, D(Reduce(Op.Max, M, [0])));
        Assert.Equal(new[] { 1.0, 4 }, D(Reduce(Op.Min, M, [1])));
    }

    [Fact]
    public void KeepDimKeepsSizeOneAxes()
    {
        var r = Reduce(Op.Sum, M, [1], keep: true);
        Assert.Equal([2, 1], r.ShapeArray());
        var all = Reduce(Op.Max, M, [0, 1], keep: true);
        Assert.Equal([1, 1], all.ShapeArray());
        Assert.Equal(6.0, D(all)[0]);
        Assert.Empty(Reduce(Op.Sum, M).ShapeArray());
    }

    [Fact]
    public void ReducingNonAdjacentAxesOfA3dTensor()
    {
        var x = F32([.. Enumerable.Range(0, 24).Select(i => (float)i)], 2, 3, 4);
        var r = Reduce(Op.Sum, x, [0, 2]);
        // for j: Σ_{i,k} (12i + 4j + k) = 2·(4·4j + 6) + 4·12 = 32j + 60
        Assert.Equal(new[] { 60.0, 92, 124 }, D(r));
    }

    [Fact]
    public void IntegerSumAndProdGiveInt64()
    {
        var x = HostTensor.FromArray(new sbyte[] { 100, 100, 100, -2 }, 2, 2);
        var s = Reduce(Op.Sum, x, [1]);
        Assert.Equal(DType.I64, s.DType);
        Assert.Equal(new long[] { 200, 98 }, L(s));
        Assert.Equal(new long[] { 10000, -200 }, L(Reduce(Op.Prod, x, [1])));
        var b = HostTensor.FromArray(new[] { true, true, false }, 3);
        Assert.Equal(new long[] { 2 }, L(Reduce(Op.Sum, b)));
        Assert.Equal(new long[] { 1 }, L(Reduce(Op.Max, b)));
        var big = I64([long.MaxValue, 1], 2);
        Assert.Equal(new long[] { long.MinValue }, L(Reduce(Op.Sum, big)));
        Assert.Equal(new long[] { -2 }, L(Reduce(Op.Min, HostTensor.FromArray(new sbyte[] { 3, -2, 5 }, 3))));
    }

    [Fact]
    public void EmptyReductions()
    {
        var e = F32([], 2, 0);
        Assert.Equal(new[] { 0.0, 0 }, D(Reduce(Op.Sum, e, [1])));
        Assert.Equal(new[] { 1.0, 1 }, D(Reduce(Op.Prod, e, [1])));
        Assert.All(D(Reduce(Op.Mean, e, [1])), v => Assert.True(double.IsNaN(v)));
        Assert.Equal(0, Reduce(Op.Sum, e, [0]).ElementCount);
    }

    [Fact]
    public void MaxAndMinPropagateNaN()
    {
        var x = F32([1, float.NaN, 3, 4, 5, 6], 2, 3);
        var mx = D(Reduce(Op.Max, x, [1]));
        Assert.True(double.IsNaN(mx[0]));
        Assert.Equal(6.0, mx[1]);
        Assert.True(double.IsNaN(D(Reduce(Op.Min, x, [1]))[0]));
        Assert.True(double.IsNaN(D(Reduce(Op.Sum, x, [1]))[0]));
    }

    [Fact]
    public void ArgMaxAndArgMinReturnTheFirstExtreme()
    {
        var x = F32([3, 7, 7, 1, 1, 5], 2, 3);
        var am = Run(i => IrBuilder.ArgReduce(Op.ArgMax, i[0], 1), x);
        Assert.Equal(DType.I64, am.DType);
        Assert.Equal(new long[] { 1, 2 }, L(am));
        Assert.Equal(new long[] { 0, 0 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMin, i[0], 1), x)));
        Assert.Equal(new long[] { 1, 1, 1 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMin, i[0], 0), x)));
        Assert.Equal(new long[] { 1 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMax, i[0], null), x))); // flattened
        var keep = Run(i => IrBuilder.ArgReduce(Op.ArgMax, i[0], 1, keepDim: true), x);
        Assert.Equal([2, 1], keep.ShapeArray());
        var ints = I64([-5, 9, 9, -5], 4);
        Assert.Equal(new long[] { 1 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMax, i[0], 0), ints)));
        Assert.Equal(new long[] { 0 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMin, i[0], 0), ints)));
    }

    [Fact]
    public void ArgMaxTreatsNaNAsTheExtreme()
    {
        var x = F32([1, float.NaN, 9, float.NaN], 4);
        Assert.Equal(new long[] { 1 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMax, i[0], 0), x)));
        Assert.Equal(new long[] { 1 }, L(Run(i => IrBuilder.ArgReduce(Op.ArgMin, i[0], 0), x)));
    }

    [Fact]
    public void CumSumAlongEachAxis()
    {
        Assert.Equal(new[] { 1.0, 3, 6, 4, 9, 15 }, D(Run(i => IrBuilder.CumSum(i[0], 1), M)));
        Assert.Equal(new[] { 1.0, 2, 3, 5, 7, 9 }, D(Run(i => IrBuilder.CumSum(i[0], 0), M)));
        var ci = Run(i => IrBuilder.CumSum(i[0], 0), HostTensor.FromArray(new[] { true, true, false, true }, 4));
        Assert.Equal(DType.I64, ci.DType);
        Assert.Equal(new long[] { 1, 2, 2, 3 }, L(ci));
    }

    public static TheoryData<DType> FloatTypes => [DType.F32, DType.F16, DType.BF16, DType.F64];

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void FloatReductionsKeepTheDType(DType dt)
    {
        var x = Of(dt, [1, 2, 3, 4, 5, 6], 2, 3);
        var s = Reduce(Op.Sum, x, [1]);
        Assert.Equal(dt, s.DType);
        Assert.Equal(new[] { 6.0, 15 }, D(s));
        Assert.Equal(new[] { 2.0, 5 }, D(Reduce(Op.Mean, x, [1])));
    }

    [Fact]
    public void SumAndMaxMatchTensorPrimitivesOnRandomRows()
    {
        Gen.Select(Gen.Int[1, 5], Gen.Int[1, 70], Gen.Int[0, 1000]).Sample((rows, cols, seed) =>
        {
            var v = Rand(rows * cols, seed, 10);
            var x = F32(v, rows, cols);
            var sum = D(Reduce(Op.Sum, x, [1]));
            var max = D(Reduce(Op.Max, x, [1]));
            var mean = D(Reduce(Op.Mean, x, [1]));
            for (int r = 0; r < rows; r++)
            {
                var row = v.AsSpan(r * cols, cols);
                Assert.Equal(TensorPrimitives.Sum(row), sum[r], 1e-3);
                Assert.Equal(TensorPrimitives.Max(row), max[r]);
                Assert.Equal(TensorPrimitives.Sum(row) / cols, mean[r], 1e-4);
            }
        }, iter: 40);
    }

    [Fact]
    public void CosineSimilarityComposedFromPrimitivesMatchesTensorPrimitives()
    {
        Gen.Select(Gen.Int[1, 100], Gen.Int[0, 1000]).Sample((n, seed) =>
        {
            var a = Rand(n, seed);
            var b = Rand(n, seed + 1);
            var r = Run(
                i =>
                {
                    var dot = IrBuilder.Reduce(Op.Sum, IrBuilder.Binary(Op.Mul, i[0], i[1]));
                    var na = IrBuilder.Reduce(Op.Sum, IrBuilder.Binary(Op.Mul, i[0], i[0]));
                    var nb = IrBuilder.Reduce(Op.Sum, IrBuilder.Binary(Op.Mul, i[1], i[1]));
                    return IrBuilder.Binary(Op.Mul, dot, IrBuilder.Unary(Op.Rsqrt, IrBuilder.Binary(Op.Mul, na, nb)));
                },
                F32(a, n),
                F32(b, n));
            Assert.Equal(TensorPrimitives.CosineSimilarity(a, b), D(r)[0], 1e-5);
        }, iter: 30);
    }
}
