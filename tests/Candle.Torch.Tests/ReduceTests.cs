using System.Numerics.Tensors;
using Candle.Runtime;

namespace Candle.Torch.Tests;

public class ReduceTests
{
    // x = [[0, 1, 2], [3, 4, 5]]
    private static Tensor X => Tensor.FromArray(Check.Seq(6), 2, 3);

    [Fact]
    public void Sum_mean_prod_over_dims()
    {
        Check.Close([15], X.Sum());
        Check.Shape(X.Sum(), []);
        Check.Close([3, 5, 7], X.Sum(0));
        Check.Close([3, 12], X.Sum(1));
        Check.Shape(X.Sum(1, keepDim: true), 2, 1);
        Check.Close([1, 4], X.Mean(-1));
        Check.Close([2.5f], X.Mean());
        Check.Close([0, 60], X.Prod(1));
        Check.Close([15], X.Sum([0, 1]));
    }

    [Fact]
    public void Integer_sum_is_int64()
    {
        var i = Tensor.FromArray([1, 2, 3]);
        Assert.Equal(DType.I64, i.Sum().DType);
        Assert.Equal(6, i.Sum().Item());
        Assert.Throws<Candle.Compiler.Ir.IrException>(() => i.Mean());
    }

    [Fact]
    public void Max_with_indices_and_argmax()
    {
        var x = Tensor.FromArray([3f, 7f, 7f, 1f, 9f, 2f], 2, 3);
        var (v, idx) = x.Max(1);
        Check.Close([7, 9], v);
        Assert.Equal([1L, 1], idx.ToArray<long>());
        var (mv, mi) = x.Min(0, keepDim: true);
        Check.Shape(mv, 1, 3);
        Check.Close([1, 7, 2], mv);
        Assert.Equal([1L, 0, 1], mi.ToArray<long>());
        Assert.Equal(4, x.ArgMax().Item());
        Assert.Equal(3, x.ArgMin().Item());
        Check.Close([9], x.Max());
        Check.Close([3, 9, 7], x.AMax([0]));
    }

    [Fact]
    public void CumSum_var_std()
    {
        Check.Close([0, 1, 3, 3, 7, 12], X.CumSum(1));
        float[] row = [3, 4, 5];
        float mean = TensorPrimitives.Sum<float>(row) / 3;
        float ss = 0;
        foreach (float v in row) ss += (v - mean) * (v - mean);
        Check.Close([ss / 2, ss / 2], X.Var([1]));
        Check.Close([ss / 3, ss / 3], X.Var([1], correction: 0));
        Check.Close([MathF.Sqrt(ss / 2), MathF.Sqrt(ss / 2)], X.Std([1]));
    }

    [Fact]
    public void Softmax_matches_TensorPrimitives()
    {
        float[] a = Check.Rand(12, 5, -3, 3);
        var t = Tensor.FromArray(a, 3, 4);
        var sm = t.Softmax(-1).ToFloatArray();
        var lsm = t.LogSoftmax(1).ToFloatArray();
        for (int r = 0; r < 3; r++)
        {
            var e = new float[4];
            TensorPrimitives.SoftMax(a.AsSpan(r * 4, 4), e);
            Check.Close(e, sm.AsSpan(r * 4, 4));
            var l = new float[4];
            TensorPrimitives.Log(e, l);
            Check.Close(l, lsm.AsSpan(r * 4, 4), 1e-4);
        }
    }

    [Fact]
    public void MatMul_matches_hand_products()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        var b = Tensor.FromArray([1f, 0f, 0f, 1f, 1f, 1f], 3, 2);
        Check.Close([4, 5, 10, 11], a.MatMul(b));
        var v = Tensor.FromArray([1f, 1f, 1f]);
        Check.Close([6, 15], a.MatMul(v));
        Check.Shape(v.MatMul(b), 2);
        Check.Close([2, 2], v.MatMul(b));
        var batched = Tensors.Stack([a, a * 2]).MatMul(b);
        Check.Shape(batched, 2, 2, 2);
        Check.Close([4, 5, 10, 11, 8, 10, 20, 22], batched);
        var ex = Assert.Throws<Candle.Compiler.Ir.IrException>(() => a.MatMul(a));
        Assert.Contains("matmul", ex.Message, StringComparison.Ordinal);
        Assert.Contains("inner dimensions", ex.Message, StringComparison.Ordinal);
    }
}
