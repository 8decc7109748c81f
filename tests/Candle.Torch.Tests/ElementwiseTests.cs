using System.Numerics.Tensors;
using Candle.Runtime;

namespace Candle.Torch.Tests;

public class ElementwiseTests
{
    [Fact]
    public void Arithmetic_matches_TensorPrimitives()
    {
        float[] a = Check.Rand(37, 1), b = Check.Rand(37, 2, 0.5f, 2f);
        var ta = Tensor.FromArray(a);
        var tb = Tensor.FromArray(b);
        var e = new float[37];
        TensorPrimitives.Add(a, b, e);
        Check.Close(e, ta + tb);
        TensorPrimitives.Subtract(a, b, e);
        Check.Close(e, ta - tb);
        TensorPrimitives.Multiply(a, b, e);
        Check.Close(e, ta * tb);
        TensorPrimitives.Divide(a, b, e);
        Check.Close(e, ta / tb);
        TensorPrimitives.Negate(a, e);
        Check.Close(e, -ta);
        TensorPrimitives.Max(a, b, e);
        Check.Close(e, ta.Maximum(tb));
        TensorPrimitives.Min(a, b, e);
        Check.Close(e, ta.Minimum(tb));
    }

    [Fact]
    public void Unary_ops_match_TensorPrimitives()
    {
        float[] a = Check.Rand(19, 3, 0.1f, 3f);
        var t = Tensor.FromArray(a);
        var e = new float[a.Length];
        TensorPrimitives.Exp(a, e);
        Check.Close(e, t.Exp());
        TensorPrimitives.Log(a, e);
        Check.Close(e, t.Log());
        TensorPrimitives.Sqrt(a, e);
        Check.Close(e, t.Sqrt());
        TensorPrimitives.Sin(a, e);
        Check.Close(e, t.Sin());
        TensorPrimitives.Cos(a, e);
        Check.Close(e, t.Cos());
        TensorPrimitives.Tanh(a, e);
        Check.Close(e, t.Tanh());
        TensorPrimitives.Sigmoid(a, e);
        Check.Close(e, t.Sigmoid());
        TensorPrimitives.Reciprocal(a, e);
        Check.Close(e, t.Reciprocal());
        TensorPrimitives.ReciprocalSqrt(a, e);
        Check.Close(e, t.Rsqrt());
        TensorPrimitives.Abs(a, e);
        Check.Close(e, (-t).Abs());
    }

    [Fact]
    public void Activations_by_hand()
    {
        var x = Tensor.FromArray([-2f, -0.5f, 0f, 1f, 3f]);
        Check.Close([0, 0, 0, 1, 3], x.Relu());
        float[] silu = [.. new[] { -2f, -0.5f, 0f, 1f, 3f }.Select(v => v / (1 + MathF.Exp(-v)))];
        Check.Close(silu, x.Silu());
        // gelu(1) = 0.5·(1 + erf(1/√2)) = 0.841344746; gelu_tanh(1) = 0.841191990
        Assert.Equal(0.841344746, x.Gelu()[3].Item(), 5);
        Assert.Equal(0.841191990, x.Gelu("tanh")[3].Item(), 5);
        Assert.Throws<ArgumentException>(() => x.Gelu("fast"));
        Assert.Equal(0.842700793, Tensor.FromArray([1f]).Erf().Item(), 5);
    }

    [Fact]
    public void Rounding_and_sign()
    {
        var x = Tensor.FromArray([-1.5f, -0.5f, 0.5f, 1.5f, 2.5f]);
        Check.Close([-2, -1, 0, 1, 2], x.Floor());
        Check.Close([-1, -0, 1, 2, 3], x.Ceil());
        Check.Close([-2, -0, 0, 2, 2], x.Round());
        Check.Close([-1, -1, 1, 1, 1], x.Sign());
        Check.Close([-1, -0.5f, 0.5f, 1, 1], x.Clamp(-1, 1));
    }

    [Fact]
    public void Scalar_operands_on_both_sides()
    {
        var x = Tensor.FromArray([1f, 2f, 4f]);
        Check.Close([3, 4, 6], x + 2);
        Check.Close([3, 4, 6], 2 + x);
        Check.Close([1, 0, -2], 2 - x);
        Check.Close([-1, 0, 2], x - 2);
        Check.Close([2, 1, 0.5f], 2 / x);
        Check.Close([0.5f, 1, 2], x / 2);
        Check.Close([3, 6, 12], 3 * x);
        Check.Close([1, 4, 16], x.Pow(2));
        Check.Close([1, 4, 16], x.Square());
    }

    [Fact]
    public void Comparisons_give_bool()
    {
        var a = Tensor.FromArray([1f, 2f, 3f]);
        var b = Tensor.FromArray([3f, 2f, 1f]);
        Assert.Equal(DType.Bool, (a < b).DType);
        Assert.Equal([true, false, false], (a < b).ToArray<bool>());
        Assert.Equal([true, true, false], (a <= b).ToArray<bool>());
        Assert.Equal([false, false, true], (a > b).ToArray<bool>());
        Assert.Equal([false, true, true], (a >= b).ToArray<bool>());
        Assert.Equal([false, true, false], a.Eq(b).ToArray<bool>());
        Assert.Equal([true, false, true], a.Ne(b).ToArray<bool>());
        Assert.Equal([false, false, true], (a > 2).ToArray<bool>());
        Assert.Equal([true, true, false], (2.5 > a).ToArray<bool>());
        Assert.Equal([false, true, false], ((a > 1) & (a < 3)).ToArray<bool>());
        Assert.Equal([true, false, true], (!a.Eq(2)).ToArray<bool>());
    }

    [Fact]
    public void Broadcasting_row_and_column()
    {
        var col = Tensor.FromArray([1f, 2f, 3f], 3, 1);
        var row = Tensor.FromArray([10f, 20f], 2);
        var s = col + row;
        Check.Shape(s, 3, 2);
        Check.Close([11, 21, 12, 22, 13, 23], s);
    }

    [Fact]
    public void Broadcasting_mismatch_names_op_and_shapes()
    {
        var a = Tensor.FromArray(Check.Seq(6), 2, 3);
        var b = Tensor.FromArray(Check.Seq(4), 4);
        var ex = Assert.Throws<Candle.Compiler.Ir.IrException>(() => a + b);
        Assert.Contains("add", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("float32", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transposed_view_then_add_is_elementwise_on_logical_layout()
    {
        var a = Tensor.FromArray(Check.Seq(6), 2, 3);        // [[0,1,2],[3,4,5]]
        var b = Tensor.FromArray(Check.Seq(6, 10), 3, 2);    // [[10,11],[12,13],[14,15]]
        var r = a.T.Contiguous() + b;                        // aᵀ = [[0,3],[1,4],[2,5]]
        Check.Close([10, 14, 13, 17, 16, 20], r);
        var p = a.Permute(1, 0) * 2;
        Check.Close([0, 6, 2, 8, 4, 10], p);
    }

    [Fact]
    public void Empty_and_size_one_dims()
    {
        var e = Tensors.Zeros(0, 3);
        var r = e + Tensor.FromArray([1f, 2f, 3f]);
        Check.Shape(r, 0, 3);
        Assert.Empty(r.ToFloatArray());
        Check.Shape(e.Sum(0), 3);
        Check.Close([0, 0, 0], e.Sum(0));
        var one = Tensor.FromArray([5f], 1, 1);
        Check.Close([6, 7], one + Tensor.FromArray([1f, 2f]));
    }

    [Fact]
    public void Dtype_promotion_and_integer_division()
    {
        var i = Tensor.FromArray([1L, 2L, 7L]);
        var f = Tensor.FromArray([0.5f, 0.5f, 0.5f]);
        Assert.Equal(DType.F32, (i + f).DType);
        Assert.Equal(DType.I64, (i + 1).DType);
        Assert.Equal(DType.F32, (i + 0.5).DType);
        Assert.Equal(DType.F32, (i / 2).DType);
        Check.Close([0.5f, 1, 3.5f], i / 2);
        Assert.Equal([0L, 1, 3], i.FloorDivide(2).ToArray<long>());
        Assert.Equal([1L, 0, 1], i.Remainder(2).ToArray<long>());
        Assert.Equal([1L, 2, 0], Tensor.FromArray([-2L, -1, 3]).Remainder(3).ToArray<long>());
        Assert.Equal(DType.F16, f.Half().DType);
        Assert.Equal([0L, 0, 0], f.Long().ToArray<long>());
        Assert.Equal(DType.F32, i.Exp().DType);
    }

    [Fact]
    public void Half_precision_rounds_per_op()
    {
        var x = Tensor.FromArray([1f, 2048f]).Half();
        var r = x + 1;
        Assert.Equal(DType.F16, r.DType);
        Check.Close([2, 2048], r.Float()); // 2049 is not representable in f16: rounds to even
    }

    [Fact]
    public void Where_and_masked_fill()
    {
        var c = Tensor.FromArray([true, false, true]);
        var a = Tensor.FromArray([1f, 2f, 3f]);
        Check.Close([1, -1, 3], Tensor.Where(c, a, -1.0));
        Check.Close([1, 0, 3], Tensors.Where(c, a, Tensors.Zeros(3)));
        Check.Close([float.NegativeInfinity, 2, float.NegativeInfinity], a.MaskedFill(c, double.NegativeInfinity));
    }

    [Fact]
    public void Item_and_ToArray_type_checks()
    {
        var x = Tensor.FromArray([1f, 2f]);
        Assert.Throws<InvalidOperationException>(() => x.Item());
        Assert.Throws<InvalidOperationException>(() => x.ToArray<long>());
        Assert.Equal(3.0, x.Sum().Item());
    }
}
