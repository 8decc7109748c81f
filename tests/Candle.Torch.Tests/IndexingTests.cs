using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Torch.Tests;

public class IndexingTests
{
    // x[i, j, k] = 12i + 4j + k, shape [2, 3, 4]
    private static Tensor X => Tensor.FromArray(Check.Seq(24), 2, 3, 4);

    [Fact]
    public void Integer_select_removes_dims()
    {
        Check.Shape(X[1], 3, 4);
        Check.Close([12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23], X[1]);
        Check.Close([21], X[1, 2, 1].Reshape(1));
        Check.Shape(X[1, 2, 1], []);
        Assert.Equal(23, X[-1, -1, -1].Item());
        Assert.Equal(23, X[^1, ^1, ^1].Item());
    }

    [Fact]
    public void Ranges_slice_like_python()
    {
        Check.Shape(X[.., 1..3], 2, 2, 4);
        Check.Close([4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23], X[.., 1..3]);
        Check.Close([3, 7, 11], X[0, .., ^1]);        // x[0, :, -1]
        Check.Close([2, 3], X[0, 0, ^2..]);           // x[0, 0, -2:]
        Check.Close([0, 1, 2], X[0, 0, ..^1]);        // x[0, 0, :-1]
        Check.Shape(X[0, 0, 4..], 0);                 // clamps to empty
        Check.Shape(X[0, 0, ^0..], 0);                // x[0, 0, len:]
        Check.Close([0, 2], X[0, 0, TensorIndex.Slice(null, null, 2)]);
        Check.Close([1, 3], X[0, 0, TensorIndex.Slice(1, 10, 2)]);
        Check.Close([3], X[0, 0, TensorIndex.Slice(-1, null)]);
    }

    [Fact]
    public void Ellipsis_and_none()
    {
        Check.Shape(X[TensorIndex.Ellipsis, 0], 2, 3);
        Check.Close([0, 4, 8, 12, 16, 20], X[TensorIndex.Ellipsis, 0]);
        Check.Shape(X[TensorIndex.None], 1, 2, 3, 4);
        Check.Shape(X[.., TensorIndex.None, 1], 2, 1, 4);
        Check.Shape(X[0, TensorIndex.Ellipsis, TensorIndex.None], 3, 4, 1);
        Check.Shape(X[TensorIndex.Ellipsis], 2, 3, 4);
    }

    [Fact]
    public void Index_tensor_selects_rows()
    {
        var idx = Tensor.FromArray([2L, 0L]);
        Check.Shape(X[.., idx], 2, 2, 4);
        Check.Close([8, 9, 10, 11, 0, 1, 2, 3], X[0, idx]);
    }

    [Fact]
    public void Bad_indices_raise_naming_the_problem()
    {
        var ex = Assert.Throws<IrException>(() => X[0, 5]);
        Assert.Contains("out of range", ex.Message, StringComparison.Ordinal);
        Assert.Contains("float32[3, 4]", ex.Message, StringComparison.Ordinal);
        Assert.Throws<IrException>(() => X[0, 0, 0, 0]);
        Assert.Throws<IrException>(() => X[TensorIndex.Ellipsis, 0, TensorIndex.Ellipsis]);
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorIndex.Slice(0, 1, 0));
    }

    [Fact]
    public void Negative_index_on_symbolic_dim_traces()
    {
        var g = Tracer.Trace(xs => [xs[0][.., ^1]], new TraceInput("h", DType.F32, "batch", "seq", 8L));
        Assert.Equal(new Shape(Dim.Sym("batch"), 8), g.Outputs[0].Shape);
        var input = Tensor.FromArray(Check.Seq(2 * 3 * 8), 2, 3, 8);
        var run = Candle.Compiler.Backends.Reference.ReferenceInterpreter.Run(g, [input.ToHostTensor()]);
        Check.Close(input[.., ^1].ToFloatArray(), run[0].ToFloat32());
    }
}
