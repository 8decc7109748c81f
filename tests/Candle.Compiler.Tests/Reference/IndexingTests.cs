using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class IndexingTests
{
    // [[0, 1, 2], [3, 4, 5]]
    private static readonly HostTensor M = F32([0, 1, 2, 3, 4, 5], 2, 3);

    [Fact]
    public void IndexSelectFollowsNumpyTake()
    {
        var rows = Run(i => IrBuilder.IndexSelect(i[0], 0, i[1]), M, I64([1, 1, 0], 3));
        Assert.Equal([3, 3], rows.ShapeArray());
        Assert.Equal(new[] { 3.0, 4, 5, 3, 4, 5, 0, 1, 2 }, D(rows));
        var cols = Run(i => IrBuilder.IndexSelect(i[0], 1, i[1]), M, HostTensor.FromArray(new[] { 2, 0 }, 2));
        Assert.Equal(new[] { 2.0, 0, 5, 3 }, D(cols));
        // embedding: a 2-d index gives x.shape[:0] + [2, 2] + x.shape[1:]
        var emb = Run(i => IrBuilder.IndexSelect(i[0], 0, i[1]), M, I64([0, 1, 1, 0], 2, 2));
        Assert.Equal([2, 2, 3], emb.ShapeArray());
        Assert.Equal(new[] { 0.0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2 }, D(emb));
        var scalarIndex = Run(i => IrBuilder.IndexSelect(i[0], 1, i[1]), M, HostTensor.FromArray(new long[] { 1 }));
        Assert.Equal([2], scalarIndex.ShapeArray());
        Assert.Equal(new[] { 1.0, 4 }, D(scalarIndex));
    }

    [Fact]
    public void GatherPicksAlongTheAxis()
    {
        // out[i][j] = x[i][index[i][j]]
        var r = Run(i => IrBuilder.Gather(i[0], 1, i[1]), M, I64([2, 0, 1, 1], 2, 2));
        Assert.Equal(new[] { 2.0, 0, 4, 4 }, D(r));
        // out[i][j] = x[index[i][j]][j]
        var c = Run(i => IrBuilder.Gather(i[0], 0, i[1]), M, I64([1, 0, 1], 1, 3));
        Assert.Equal(new[] { 3.0, 1, 5 }, D(c));
    }

    [Fact]
    public void ScatterAddAccumulatesOutOfPlace()
    {
        var x = F32([0, 0, 0, 0, 0, 0], 2, 3);
        var src = F32([1, 2, 3, 4], 2, 2);
        var idx = I64([0, 0, 2, 1], 2, 2);
        var r = Run(i => IrBuilder.ScatterAdd(i[0], 1, i[1], i[2]), x, idx, src);
        Assert.Equal(new[] { 3.0, 0, 0, 0, 4, 3 }, D(r));
        Assert.All(D(x), v => Assert.Equal(0.0, v)); // the input is untouched
        var ints = Run(i => IrBuilder.ScatterAdd(i[0], 0, i[1], i[2]), I64([1, 1], 2), I64([1, 1, 0], 3), I64([5, 6, 7], 3));
        Assert.Equal(new long[] { 8, 12 }, L(ints));
    }

    [Fact]
    public void GatherAndScatterAddAreAdjoint()
    {
        // <gather(x, idx), y> == <x, scatter_add(0, idx, y)>
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 5], Gen.Int[1, 5], Gen.Int[0, 1000]).Sample((rows, cols, picks, seed) =>
        {
            var rnd = new Random(seed);
            var x = Rand(rows * cols, seed);
            var y = Rand(rows * picks, seed + 1);
            var idx = Enumerable.Range(0, rows * picks).Select(_ => (long)rnd.Next(cols)).ToArray();
            var g = D(Run(i => IrBuilder.Gather(i[0], 1, i[1]), F32(x, rows, cols), I64(idx, rows, picks)));
            var s = D(Run(i => IrBuilder.ScatterAdd(i[0], 1, i[1], i[2]), F32(new float[rows * cols], rows, cols), I64(idx, rows, picks), F32(y, rows, picks)));
            double lhs = g.Select((v, i) => v * y[i]).Sum();
            double rhs = s.Select((v, i) => v * x[i]).Sum();
            Assert.Equal(lhs, rhs, 1e-5);
        }, iter: 40);
    }

    [Fact]
    public void OutOfRangeIndexNamesTheOpIndexAndDimSize()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Run(i => IrBuilder.IndexSelect(i[0], 0, i[1]), M, I64([0, 2], 2)));
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
        Assert.Contains("index 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("size 2", e.Message, StringComparison.Ordinal);
        var n = Assert.Throws<ArgumentOutOfRangeException>(() => Run(i => IrBuilder.Gather(i[0], 1, i[1]), M, I64([-1, 0], 1, 2)));
        Assert.Contains("gather", n.Message, StringComparison.Ordinal);
        Assert.Contains("index -1", n.Message, StringComparison.Ordinal);
        var s = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Run(i => IrBuilder.ScatterAdd(i[0], 0, i[1], i[2]), F32([0, 0], 2), I64([5], 1), F32([1], 1)));
        Assert.Contains("scatter_add", s.Message, StringComparison.Ordinal);
        Assert.Contains("index 5", s.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexingWorksOnEveryDType()
    {
        foreach (var dt in new[] { DType.F16, DType.BF16, DType.I8, DType.U8, DType.Bool, DType.I32 })
        {
            var x = Of(dt, [1, 0, 1, 1], 4);
            var r = Run(i => IrBuilder.IndexSelect(i[0], 0, i[1]), x, I64([3, 1], 2));
            Assert.Equal(dt, r.DType);
            Assert.Equal(new[] { 1.0, 0 }, D(r));
        }
    }
}
