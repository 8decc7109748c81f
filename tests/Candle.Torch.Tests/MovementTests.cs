using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch.Tests;

public class MovementTests
{
    private static Tensor X => Tensor.FromArray(Check.Seq(24), 2, 3, 4);

    [Fact]
    public void View_with_inferred_dim()
    {
        Check.Shape(X.View(6, -1), 6, 4);
        Check.Shape(X.Reshape(-1), 24);
        Check.Close(Check.Seq(24), X.View(4, 6));
        var ex = Assert.Throws<IrException>(() => X.View(5, -1));
        Assert.Contains("reshape", ex.Message, StringComparison.Ordinal);
        Assert.Throws<IrException>(() => X.View(-1, -1));
    }

    [Fact]
    public void View_with_symbolic_dims_infers_minus_one()
    {
        var g = Tracer.Trace(xs => [xs[0].View(xs[0].Shape[0], xs[0].Shape[1], 4, -1)], new TraceInput("x", DType.F32, "batch", "seq", 256L));
        Assert.Equal(new Shape(Dim.Sym("batch"), Dim.Sym("seq"), 4, 64), g.Outputs[0].Shape);
    }

    [Fact]
    public void Permute_transpose_and_T()
    {
        var p = X.Permute(2, 0, 1);
        Check.Shape(p, 4, 2, 3);
        // p[i, j, k] = x[j, k, i] = 12j + 4k + i
        var v = p.ToFloatArray();
        for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal((12 * j) + (4 * k) + i, v[(i * 6) + (j * 3) + k]);
        }

        Check.Shape(X.Transpose(0, -1), 4, 3, 2);
        Check.Shape(X.MT, 2, 4, 3);
        Assert.Throws<IrException>(() => X.T);
    }

    [Fact]
    public void Squeeze_unsqueeze_expand_flatten()
    {
        var a = Tensor.FromArray([1f, 2f, 3f], 3);
        Check.Shape(a.Unsqueeze(0), 1, 3);
        Check.Shape(a.Unsqueeze(-1), 3, 1);
        Check.Shape(a.Unsqueeze(0).Unsqueeze(2).Squeeze(), 3);
        Check.Shape(a.Unsqueeze(0).Unsqueeze(2).Squeeze(0), 3, 1);
        Check.Shape(a.Unsqueeze(0).Squeeze(1), 1, 3);
        var e = a.Unsqueeze(1).Expand(3, 2);
        Check.Close([1, 1, 2, 2, 3, 3], e);
        Check.Shape(a.Expand(2, -1), 2, 3);
        Check.Shape(a.ExpandAs(Tensors.Zeros(4, 3)), 4, 3);
        Assert.Throws<IrException>(() => a.Expand(2, 4));
        Check.Shape(X.Flatten(), 24);
        Check.Shape(X.Flatten(1), 2, 12);
        Check.Shape(X.Flatten(0, 1), 6, 4);
        Check.Shape(X.Unflatten(2, 2, -1), 2, 3, 2, 2);
    }

    [Fact]
    public void Narrow_chunk_split_unbind()
    {
        var r = Tensor.FromArray(Check.Seq(7));
        Check.Close([2, 3, 4], r.Narrow(0, 2, 3));
        Check.Close([5, 6], r.Narrow(0, -2, 2));
        var chunks = r.Chunk(3);
        Assert.Equal(3, chunks.Length);
        Check.Close([0, 1, 2], chunks[0]);
        Check.Close([6], chunks[2]);
        var parts = r.Split(3);
        Assert.Equal([3L, 3, 1], parts.Select(p => p.Size(0)));
        var sized = r.Split([2L, 5L]);
        Check.Close([2, 3, 4, 5, 6], sized[1]);
        Assert.Throws<IrException>(() => r.Split([2L, 2L]));
        var rows = X.Unbind(1);
        Assert.Equal(3, rows.Length);
        Check.Shape(rows[1], 2, 4);
        Check.Close([4, 5, 6, 7, 16, 17, 18, 19], rows[1]);
    }

    [Fact]
    public void Flip_repeat_repeat_interleave()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        Check.Close([2, 1, 4, 3], a.Flip(1));
        Check.Close([4, 3, 2, 1], a.Flip(0, 1));
        var rep = a.Repeat(2, 3);
        Check.Shape(rep, 4, 6);
        Check.Close([1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4], rep);
        Check.Shape(a.Repeat(2, 1, 1), 2, 2, 2);
        Check.Close([1, 2, 1, 2, 3, 4, 3, 4], a.RepeatInterleave(2, 0));
        Check.Close([1, 1, 2, 2, 3, 3, 4, 4], a.RepeatInterleave(2, 1));
    }

    [Fact]
    public void Index_select_gather_scatter_add()
    {
        var a = Tensor.FromArray(Check.Seq(6), 3, 2);
        var idx = Tensor.FromArray([2L, 0L]);
        Check.Close([4, 5, 0, 1], a.IndexSelect(0, idx));
        var g = a.Gather(1, Tensor.FromArray([1L, 0L, 0L, 0L, 1L, 1L], 3, 2));
        Check.Close([1, 0, 2, 2, 5, 5], g);
        var s = Tensors.Zeros(3).ScatterAdd(0, Tensor.FromArray([0L, 2L, 0L]), Tensor.FromArray([1f, 2f, 3f]));
        Check.Close([4, 0, 2], s);
        Assert.Throws<IrException>(() => a.IndexSelect(0, Tensor.FromArray([0f])));
    }

    [Fact]
    public void Tril_triu_cat_stack()
    {
        var o = Tensors.Ones(3, 3);
        Check.Close([1, 0, 0, 1, 1, 0, 1, 1, 1], o.Tril());
        Check.Close([0, 1, 1, 0, 0, 1, 0, 0, 0], o.Triu(1));
        var a = Tensor.FromArray([1f, 2f], 1, 2);
        var b = Tensor.FromArray([3f, 4f, 5f, 6f], 2, 2);
        Check.Close([1, 2, 3, 4, 5, 6], Tensors.Cat([a, b]));
        Check.Shape(Tensors.Stack([a, a], 1), 1, 2, 2);
        var ex = Assert.Throws<IrException>(() => Tensors.Cat([a, b], 1));
        Assert.Contains("concat", ex.Message, StringComparison.Ordinal);
        Assert.Equal(DType.F32, Tensors.Cat([Tensor.FromArray([1L]), Tensor.FromArray([0.5f])]).DType);
    }

    [Fact]
    public void Factories()
    {
        Assert.Equal([0L, 1, 2, 3], Tensors.Arange(4).ToArray<long>());
        Check.Close([1, 1.5f, 2, 2.5f], Tensors.Arange(1, 3, 0.5));
        Check.Close([0, 0.5f, 1], Tensors.Linspace(0, 1, 3));
        Check.Close([1, 0, 0, 1], Tensors.Eye(2));
        Check.Close([7, 7], Tensors.Full([2], 7));
        Assert.Equal(DType.I64, Tensors.Ones([2], DType.I64).DType);
        Check.Shape(Tensors.Scalar(3), []);
        var r1 = Tensors.Randn([1000], seed: 7).ToFloatArray();
        Assert.Equal(r1, Tensors.Randn([1000], seed: 7).ToFloatArray());
        Assert.InRange(r1.Average(), -0.15, 0.15);
        Assert.InRange(r1.Select(v => v * v).Average(), 0.85, 1.15);
        Assert.All(Tensors.Rand([100], 1).ToFloatArray(), v => Assert.InRange(v, 0f, 1f));
        Assert.All(Tensors.RandInt(2, 5, [100], 1).ToArray<long>(), v => Assert.InRange(v, 2L, 4L));
        Assert.Throws<ArgumentException>(() => Tensor.FromArray([1f, 2f], 3));
    }
}
