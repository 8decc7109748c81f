using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// scatter_add over large float32 tensors, split across threads: every element must receive its contributions in the
/// serial order, so the result equals the serial definition (y = x; y[index[p]] += src[p] in increasing p) bit for bit.
/// </summary>
public class ScatterAddKernelTests
{
    private static float[] Serial(float[] x, long[] index, float[] src, int[] xShape, int[] iShape, int axis)
    {
        var y = (float[])x.Clone();
        int rank = xShape.Length;
        for (long i = 0; i < index.Length; i++)
        {
            long rem = i, off = 0, mul = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                long ix = rem % iShape[d];
                rem /= iShape[d];
                if (d == axis) ix = index[i];
                off += ix * mul;
                mul *= xShape[d];
            }

            y[off] += src[i];
        }

        return y;
    }

    [Theory]
    [InlineData(new[] { 40, 300 }, new[] { 900, 300 }, 0, true)]
    [InlineData(new[] { 30, 50 }, new[] { 30, 2000 }, 1, false)]
    [InlineData(new[] { 3, 17, 70 }, new[] { 3, 400, 70 }, 1, true)]
    public void ParallelEmbeddingAndOneHotGradientsMatchTheSerialOrderExactly(int[] xShape, int[] iShape, int axis, bool rowIndex)
    {
        var rng = new Random(xShape.Sum() + iShape.Sum());
        int xn = xShape.Aggregate(1, (a, b) => a * b), n = iShape.Aggregate(1, (a, b) => a * b);
        int inner = iShape.Skip(axis + 1).Aggregate(1, (a, b) => a * b);

        // Embedding-style indices repeat one row index across the inner dimensions; few distinct values make many
        // contributions land on each element, so any change of order would show in the rounding.
        var rows = Enumerable.Range(0, n / inner).Select(_ => (long)rng.Next(Math.Min(5, xShape[axis]))).ToArray();
        var index = Enumerable.Range(0, n).Select(i => rowIndex ? rows[i / inner] : rng.Next(xShape[axis])).Select(v => (long)v).ToArray();
        var x = Enumerable.Range(0, xn).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var src = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-3, 4)))).ToArray();
        var xs = Input("x", DType.F32, Shape.Of(xShape));
        var ix = Input("i", DType.I64, Shape.Of(iShape));
        var ss = Input("s", DType.F32, Shape.Of(iShape));
        var g = new Graph([xs, ix, ss], [ScatterAdd(xs, axis, ix, ss)]);
        var expected = Serial(x, index, src, xShape, iShape, axis);
        foreach (int threads in new[] { 1, 3 })
        {
            using var plan = CpuHarness.Compile(g, threads: threads);
            var y = plan.Run([HostTensor.FromArray(x, xShape), HostTensor.FromArray(index, iShape), HostTensor.FromArray(src, iShape)])[0].ToFloat32();
            Assert.Equal(expected, y);
        }
    }
}
