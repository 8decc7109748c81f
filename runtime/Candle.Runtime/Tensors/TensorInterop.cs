using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Tensors;

/// <summary>
/// Conversions between <see cref="HostTensor"/> and System.Numerics.Tensors' <see cref="Tensor{T}"/>,
/// <see cref="TensorSpan{T}"/> and <see cref="ReadOnlyTensorSpan{T}"/>, without copies where the layout allows: a
/// host tensor is always dense and row-major, so it is viewed as a tensor span in place; a dense row-major
/// <see cref="Tensor{T}"/> becomes a host tensor over the same memory (pinned only while a plan runs on it). Element
/// types map one to one: <see cref="float"/> float32, <see cref="Half"/> float16, <see cref="double"/> float64,
/// <see cref="long"/> int64, <see cref="int"/> int32, <see cref="sbyte"/> int8, <see cref="byte"/> uint8,
/// <see cref="bool"/> bool; bfloat16 has no .NET element type.
/// </summary>
public static class TensorInterop
{
    /// <summary>The dtype of elements of type <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is no element type of a dtype.</exception>
    public static DType DTypeOf<T>() =>
        typeof(T) == typeof(float) ? DType.F32
        : typeof(T) == typeof(Half) ? DType.F16
        : typeof(T) == typeof(double) ? DType.F64
        : typeof(T) == typeof(long) ? DType.I64
        : typeof(T) == typeof(int) ? DType.I32
        : typeof(T) == typeof(sbyte) ? DType.I8
        : typeof(T) == typeof(byte) ? DType.U8
        : typeof(T) == typeof(bool) ? DType.Bool
        : throw new NotSupportedException($"{typeof(T).Name} is not the element type of a dtype (float, Half, double, long, int, sbyte, byte, bool)");

    /// <summary>The tensor viewed in place as a <see cref="TensorSpan{T}"/> (no copy: writes go to the tensor).</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the tensor's element type.</exception>
    public static TensorSpan<T> AsTensorSpan<T>(this HostTensor tensor)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckElementType<T>(tensor);
        return new TensorSpan<T>(MemoryMarshal.Cast<byte, T>(tensor.Data.Span), Lengths(tensor));
    }

    /// <summary>The tensor viewed in place as a <see cref="ReadOnlyTensorSpan{T}"/> (no copy).</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the tensor's element type.</exception>
    public static ReadOnlyTensorSpan<T> AsReadOnlyTensorSpan<T>(this HostTensor tensor)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckElementType<T>(tensor);
        return new ReadOnlyTensorSpan<T>(MemoryMarshal.Cast<byte, T>(tensor.Data.Span), Lengths(tensor));
    }

    /// <summary>
    /// A new <see cref="Tensor{T}"/> holding a copy of the elements (a <see cref="Tensor{T}"/> owns a managed array;
    /// use <see cref="AsTensorSpan{T}"/> to work on the elements in place).
    /// </summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the tensor's element type.</exception>
    public static Tensor<T> ToTensor<T>(this HostTensor tensor)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckElementType<T>(tensor);
        T[] values = MemoryMarshal.Cast<byte, T>(tensor.Data.Span).ToArray();
        return Tensor.Create(values, Lengths(tensor));
    }

    /// <summary>
    /// The tensor as a <see cref="HostTensor"/>. A dense row-major tensor is not copied: the host tensor reads and
    /// writes the tensor's memory (a plan pins it while it runs). A tensor with other strides (a broadcast or a
    /// strided view) is copied into a dense row-major one.
    /// </summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is no element type of a dtype.</exception>
    /// <exception cref="ArgumentException">A dimension exceeds <see cref="int.MaxValue"/>.</exception>
    public static HostTensor ToHostTensor<T>(this Tensor<T> tensor)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var dtype = DTypeOf<T>();
        int[] shape = Shape(tensor.Lengths);
        if (tensor.FlattenedLength == 0) return new HostTensor(dtype, shape, Memory<byte>.Empty);
        if (IsRowMajor(tensor.Lengths, tensor.Strides) && tensor.FlattenedLength <= int.MaxValue / Unsafe.SizeOf<T>())
        {
            return new HostTensor(dtype, shape, new TensorMemory<T>(tensor).Memory);
        }

        T[] dense = new T[tensor.FlattenedLength];
        tensor.FlattenTo(dense);
        return new HostTensor(dtype, shape, MemoryMarshal.AsBytes(dense.AsSpan()).ToArray());
    }

    /// <summary>A dense row-major <see cref="HostTensor"/> holding a copy of the span's elements (a span cannot be kept).</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is no element type of a dtype.</exception>
    /// <exception cref="ArgumentException">A dimension exceeds <see cref="int.MaxValue"/>.</exception>
    public static HostTensor ToHostTensor<T>(this in ReadOnlyTensorSpan<T> span)
        where T : unmanaged
    {
        var dtype = DTypeOf<T>();
        int[] shape = Shape(span.Lengths);
        T[] dense = new T[span.FlattenedLength];
        span.FlattenTo(dense);
        return new HostTensor(dtype, shape, MemoryMarshal.AsBytes(dense.AsSpan()).ToArray());
    }

    /// <summary>A dense row-major <see cref="HostTensor"/> holding a copy of the span's elements (a span cannot be kept).</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is no element type of a dtype.</exception>
    /// <exception cref="ArgumentException">A dimension exceeds <see cref="int.MaxValue"/>.</exception>
    public static HostTensor ToHostTensor<T>(this in TensorSpan<T> span)
        where T : unmanaged
    {
        ReadOnlyTensorSpan<T> view = span;
        return view.ToHostTensor();
    }

    private static void CheckElementType<T>(HostTensor tensor)
    {
        if (tensor.DType == DType.BF16)
        {
            throw new InvalidOperationException($"a bfloat16 tensor has no .NET element type to view as {typeof(T).Name}: Cast(DType.F32) first");
        }

        if (DTypeOf<T>() != tensor.DType)
        {
            throw new InvalidOperationException($"cannot view a {tensor.DType.TorchName()} tensor as {typeof(T).Name} elements (it holds {ElementTypeName(tensor.DType)})");
        }
    }

    private static string ElementTypeName(DType dtype) => dtype switch
    {
        DType.F32 => "float",
        DType.F16 => "Half",
        DType.F64 => "double",
        DType.I64 => "long",
        DType.I32 => "int",
        DType.I8 => "sbyte",
        DType.U8 => "byte",
        DType.Bool => "bool",
        _ => dtype.TorchName(),
    };

    private static nint[] Lengths(HostTensor tensor)
    {
        var lengths = new nint[tensor.Rank];
        for (int d = 0; d < lengths.Length; d++) lengths[d] = tensor.Shape[d];
        return lengths;
    }

    private static int[] Shape(ReadOnlySpan<nint> lengths)
    {
        var shape = new int[lengths.Length];
        for (int d = 0; d < shape.Length; d++)
        {
            shape[d] = lengths[d] <= int.MaxValue
                ? (int)lengths[d]
                : throw new ArgumentException($"dimension {d} has {lengths[d]} elements, more than a HostTensor dimension holds ({int.MaxValue})");
        }

        return shape;
    }

    private static bool IsRowMajor(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides)
    {
        nint expected = 1;
        for (int d = lengths.Length - 1; d >= 0; d--)
        {
            if (lengths[d] != 1 && strides[d] != expected) return false;
            expected *= lengths[d];
        }

        return true;
    }

    /// <summary>The bytes of a dense row-major tensor, in place; pinned through the tensor's own handle while a caller holds a pin.</summary>
    private sealed unsafe class TensorMemory<T>(Tensor<T> tensor) : MemoryManager<byte>
        where T : unmanaged
    {
        private readonly int _length = checked((int)tensor.FlattenedLength * Unsafe.SizeOf<T>());

        public override Span<byte> GetSpan()
        {
            var span = tensor.AsTensorSpan();
            ReadOnlySpan<nint> start = stackalloc nint[span.Rank];
            return MemoryMarshal.AsBytes(span.GetSpan(start, (int)tensor.FlattenedLength));
        }

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            if ((uint)elementIndex > (uint)_length) throw new ArgumentOutOfRangeException(nameof(elementIndex));
            var inner = tensor.GetPinnedHandle();
            return new MemoryHandle((byte*)inner.Pointer + elementIndex, default, new Release(inner));
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Release(MemoryHandle inner) : IPinnable
        {
            private MemoryHandle _inner = inner;

            public MemoryHandle Pin(int elementIndex) => throw new NotSupportedException();

            public void Unpin() => _inner.Dispose();
        }
    }
}
