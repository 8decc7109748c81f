using System.Numerics.Tensors;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Tests;

/// <summary>
/// <see cref="TensorInterop"/>: host tensors are viewed as tensor spans in place, dense row-major
/// <see cref="Tensor{T}"/>s become host tensors over the same memory, and other layouts are copied in row-major
/// order (checked against indexing the source element by element).
/// </summary>
public class TensorInteropTests
{
    [Fact]
    public void A_host_tensor_is_viewed_in_place_as_a_tensor_span()
    {
        var host = HostTensor.FromArray([1f, 2, 3, 4, 5, 6], 2, 3);
        var span = host.AsTensorSpan<float>();
        Assert.Equal([2, 3], span.Lengths.ToArray());
        Assert.Equal(6f, span[1, 2]);
        span[0, 1] = 42f;
        Assert.Equal(42.0, host.GetDouble(1));
        Assert.Equal(42f, host.AsReadOnlyTensorSpan<float>()[0, 1]);
    }

    [Fact]
    public void A_dense_tensor_becomes_a_host_tensor_without_a_copy()
    {
        var tensor = Tensor.Create(new long[] { 10, 20, 30, 40, 50, 60 }, [3, 2]);
        var host = tensor.ToHostTensor();
        Assert.Equal(DType.I64, host.DType);
        Assert.Equal([3, 2], host.Shape);
        Assert.Equal([10L, 20, 30, 40, 50, 60], host.ToInt64());

        // The same memory: a write on either side is seen by the other, also through a pin.
        tensor[2, 1] = 7;
        Assert.Equal(7, host.GetInt64(5));
        host.SetInt64(0, -1);
        Assert.Equal(-1, tensor[0, 0]);
        unsafe
        {
            using var pin = host.Data.Pin();
            Assert.Equal(-1, *(long*)pin.Pointer);
            Assert.Equal(7, ((long*)pin.Pointer)[5]);
        }
    }

    [Fact]
    public void A_broadcast_or_strided_tensor_is_copied_in_row_major_order()
    {
        // A column broadcast along a stride-0 dimension.
        var broadcast = Tensor.Create(new float[] { 1, 2, 3 }, [4, 3], [0, 1]);
        var host = broadcast.ToHostTensor();
        Assert.Equal([4, 3], host.Shape);
        for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) Assert.Equal(broadcast[i, j], host.AsReadOnlyTensorSpan<float>()[i, j]);

        // A transposed view (column-major strides).
        var transposed = Tensor.Create(new double[] { 1, 2, 3, 4, 5, 6 }, [3, 2], [1, 3]);
        host = transposed.ToHostTensor();
        Assert.Equal([1.0, 4, 2, 5, 3, 6], host.ToFloat64());
        broadcast[0, 0] = 9;
        Assert.Equal(9f, broadcast[3, 0]);
    }

    [Fact]
    public void Tensor_spans_and_to_tensor_copy()
    {
        Half[] values = [(Half)1, (Half)(-2.5), (Half)0.125, (Half)8];
        var span = new ReadOnlyTensorSpan<Half>(values, [2, 2]);
        var host = span.ToHostTensor();
        Assert.Equal(DType.F16, host.DType);
        Assert.Equal([1.0, -2.5, 0.125, 8], host.ToFloat64());
        values[0] = (Half)5;
        Assert.Equal(1.0, host.GetDouble(0));

        var tensor = HostTensor.FromArray([1, 2, 3, 4, 5, 6], 3, 2).ToTensor<int>();
        Assert.Equal([3, 2], tensor.Lengths.ToArray());
        Assert.Equal(6, tensor[2, 1]);
    }

    [Fact]
    public void Mismatched_element_types_are_clear_errors()
    {
        var host = HostTensor.FromArray([1f, 2], 2);
        var e = Assert.Throws<InvalidOperationException>(() => host.AsTensorSpan<double>());
        Assert.Contains("float32", e.Message, StringComparison.Ordinal);
        Assert.Contains("Double", e.Message, StringComparison.Ordinal);
        var bf16 = host.Cast(DType.BF16);
        e = Assert.Throws<InvalidOperationException>(() => bf16.ToTensor<float>());
        Assert.Contains("bfloat16", e.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => Tensor.Create(new ushort[] { 1 }, [1]).ToHostTensor());
    }
}
