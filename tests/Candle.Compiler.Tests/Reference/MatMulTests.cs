using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class MatMulTests
{
    private static float[] Naive(float[] a, float[] b, int batch, int m, int k, int n)
    {
        var c = new float[batch * m * n];
        for (int z = 0; z < batch; z++)
        {
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    float acc = 0;
                    for (int p = 0; p < k; p++) acc += a[(z * m * k) + (i * k) + p] * b[(z * k * n) + (p * n) + j];
                    c[(z * m * n) + (i * n) + j] = acc;
                }
            }
        }

        return c;
    }

    [Fact]
    public void HandComputed2x2()
    {
        var a = F32([1, 2, 3, 4], 2, 2);
        var b = F32([5, 6, 7, 8], 2, 2);
        Assert.Equal(new[] { 19.0, 22, 43, 50 }, D(Run(i => IrBuilder.MatMul(i[0], i[1]), a, b)));
    }

    [Fact]
    public void BatchedMatchesANaiveLoop()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, 6], Gen.Int[0, 9], Gen.Int[1, 7], Gen.Int[0, 1000]).Sample((batch, m, k, n, seed) =>
        {
            var a = Rand(batch * m * k, seed);
            var b = Rand(batch * k * n, seed + 7);
            var r = Run(i => IrBuilder.MatMul(i[0], i[1]), F32(a, batch, m, k), F32(b, batch, k, n));
            Assert.Equal([batch, m, n], r.ShapeArray());
            Close(Naive(a, b, batch, m, k, n), D(r), 1e-5);
        }, iter: 40);
    }

    [Fact]
    public void BroadcastBatchAndVectorsThroughTheBuilder()
    {
        var a = F32([1, 2, 3, 4, 5, 6, 7, 8], 2, 2, 2);
        var w = F32([1, 0, 0, 2], 2, 2);
        Assert.Equal(new[] { 1.0, 4, 3, 8, 5, 12, 7, 16 }, D(Run(i => IrBuilder.MatMul(i[0], i[1]), a, w)));
        var v = F32([1, 1], 2);
        var mv = Run(i => IrBuilder.MatMul(i[0], i[1]), w, v);
        Assert.Equal([2], mv.ShapeArray());
        Assert.Equal(new[] { 1.0, 2 }, D(mv));
        var dot = Run(i => IrBuilder.MatMul(i[0], i[1]), v, F32([3, 4], 2));
        Assert.Empty(dot.ShapeArray());
        Assert.Equal(7.0, D(dot)[0]);
    }

    [Fact]
    public void IntegerAndHalfMatMul()
    {
        var a = I64([1, 2, 3, 4], 2, 2);
        var b = I64([5, 6, 7, 8], 2, 2);
        var r = Run(i => IrBuilder.MatMul(i[0], i[1]), a, b);
        Assert.Equal(DType.I64, r.DType);
        Assert.Equal(new long[] { 19, 22, 43, 50 }, L(r));
        var h = Run(i => IrBuilder.MatMul(i[0], i[1]), Of(DType.F16, [1, 2, 3, 4], 2, 2), Of(DType.F16, [5, 6, 7, 8], 2, 2));
        Assert.Equal(DType.F16, h.DType);
        Assert.Equal(new[] { 19.0, 22, 43, 50 }, D(h));
    }

    [Fact]
    public void EmptyInnerDimensionGivesZeros()
    {
        var r = Run(i => IrBuilder.MatMul(i[0], i[1]), F32([], 2, 0), F32([], 0, 3));
        Assert.Equal([2, 3], r.ShapeArray());
        Assert.All(D(r), v => Assert.Equal(0.0, v));
    }
}
