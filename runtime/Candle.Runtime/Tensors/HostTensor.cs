using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Candle.Runtime.Tensors;

/// <summary>
/// A dense, contiguous, row-major tensor in host memory: a dtype, a concrete shape and the bytes.
/// The bytes may be an owned array or a zero-copy view of a memory-mapped file.
/// This is the currency between the runtime, the backends and the weight loaders.
/// </summary>
public sealed class HostTensor
{
    private readonly int[] _shape;

    /// <summary>Wraps existing bytes; their length must equal the element count times the dtype size.</summary>
    /// <exception cref="ArgumentException">The shape has a negative dimension or the byte length does not match.</exception>
    public HostTensor(DType dtype, ReadOnlySpan<int> shape, Memory<byte> data)
    {
        _shape = shape.ToArray();
        long count = 1;
        foreach (int d in _shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"shape [{string.Join(", ", _shape)}] has a negative dimension", nameof(shape));
            }

            count = checked(count * d);
        }

        long bytes = checked(count * dtype.SizeInBytes());
        if (bytes != data.Length)
        {
            throw new ArgumentException(
                $"{dtype.TorchName()} tensor of shape [{string.Join(", ", _shape)}] needs {bytes} bytes but {data.Length} were given",
                nameof(data));
        }

        DType = dtype;
        ElementCount = count;
        Data = data;
    }

    /// <summary>The element type.</summary>
    public DType DType { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements (the product of the dimensions; 1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The raw little-endian bytes.</summary>
    public Memory<byte> Data { get; }

    /// <summary>The shape as a new array.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <summary>A zero-filled tensor.</summary>
    public static HostTensor Zeros(DType dtype, params int[] shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            count = checked(count * Math.Max(d, 0));
        }

        return new HostTensor(dtype, shape, new byte[checked((int)(count * dtype.SizeInBytes()))]);
    }

    /// <summary>Copies an array of float32 values into a new tensor.</summary>
    public static HostTensor FromArray(float[] values, params int[] shape) => FromUnmanaged(DType.F32, values, shape);

    /// <summary>Copies an array of float64 values into a new tensor.</summary>
    public static HostTensor FromArray(double[] values, params int[] shape) => FromUnmanaged(DType.F64, values, shape);

    /// <summary>Copies an array of int64 values into a new tensor.</summary>
    public static HostTensor FromArray(long[] values, params int[] shape) => FromUnmanaged(DType.I64, values, shape);

    /// <summary>Copies an array of int32 values into a new tensor.</summary>
    public static HostTensor FromArray(int[] values, params int[] shape) => FromUnmanaged(DType.I32, values, shape);

    /// <summary>Copies an array of int8 values into a new tensor.</summary>
    public static HostTensor FromArray(sbyte[] values, params int[] shape) => FromUnmanaged(DType.I8, values, shape);

    /// <summary>Copies an array of uint8 values into a new tensor.</summary>
    public static HostTensor FromArray(byte[] values, params int[] shape) => FromUnmanaged(DType.U8, values, shape);

    /// <summary>Copies an array of half values into a new tensor.</summary>
    public static HostTensor FromArray(Half[] values, params int[] shape) => FromUnmanaged(DType.F16, values, shape);

    /// <summary>Copies an array of booleans into a new tensor.</summary>
    public static HostTensor FromArray(bool[] values, params int[] shape) => FromUnmanaged(DType.Bool, values, shape);

    /// <summary>Builds a tensor of any dtype from double values, rounding each to the dtype (as <see cref="SetDouble"/> does).</summary>
    public static HostTensor FromDoubles(DType dtype, ReadOnlySpan<double> values, params int[] shape)
    {
        var t = Zeros(dtype, shape);
        if (t.ElementCount != values.Length)
        {
            throw new ArgumentException($"{values.Length} values do not fill shape [{string.Join(", ", shape)}]", nameof(values));
        }

        for (int i = 0; i < values.Length; i++)
        {
            t.SetDouble(i, values[i]);
        }

        return t;
    }

    private static HostTensor FromUnmanaged<T>(DType dtype, T[] values, int[] shape)
        where T : unmanaged
    {
        byte[] bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        return new HostTensor(dtype, shape, bytes);
    }

    /// <summary>The elements reinterpreted as <typeparamref name="T"/>; the size of T must match the dtype.</summary>
    public Span<T> AsSpan<T>()
        where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != DType.SizeInBytes())
        {
            throw new InvalidOperationException($"cannot view a {DType.TorchName()} tensor as {typeof(T).Name}");
        }

        return MemoryMarshal.Cast<byte, T>(Data.Span);
    }

    /// <summary>Reads element <paramref name="index"/> (flat, row-major) widened to double; bool reads as 0 or 1.</summary>
    public double GetDouble(long index)
    {
        var s = Data.Span;
        int i = checked((int)index);
        return DType switch
        {
            DType.F32 => MemoryMarshal.Cast<byte, float>(s)[i],
            DType.F64 => MemoryMarshal.Cast<byte, double>(s)[i],
            DType.F16 => (double)MemoryMarshal.Cast<byte, Half>(s)[i],
            DType.BF16 => BFloat16Bits.ToSingle(MemoryMarshal.Cast<byte, ushort>(s)[i]),
            DType.I64 => MemoryMarshal.Cast<byte, long>(s)[i],
            DType.I32 => MemoryMarshal.Cast<byte, int>(s)[i],
            DType.I8 => (sbyte)s[i],
            DType.U8 => s[i],
            DType.Bool => s[i] != 0 ? 1.0 : 0.0,
            _ => throw new InvalidOperationException($"unknown dtype {DType}"),
        };
    }

    /// <summary>Reads element <paramref name="index"/> as a 64-bit integer (floats truncate toward zero).</summary>
    public long GetInt64(long index)
    {
        var s = Data.Span;
        int i = checked((int)index);
        return DType switch
        {
            DType.I64 => MemoryMarshal.Cast<byte, long>(s)[i],
            DType.I32 => MemoryMarshal.Cast<byte, int>(s)[i],
            DType.I8 => (sbyte)s[i],
            DType.U8 => s[i],
            DType.Bool => s[i] != 0 ? 1 : 0,
            _ => (long)GetDouble(index),
        };
    }

    /// <summary>
    /// Writes element <paramref name="index"/> from a double, rounding to the dtype: floats round to nearest even,
    /// integers truncate toward zero and wrap like a C cast, bool stores value != 0.
    /// </summary>
    public void SetDouble(long index, double value)
    {
        var s = Data.Span;
        int i = checked((int)index);
        switch (DType)
        {
            case DType.F32: MemoryMarshal.Cast<byte, float>(s)[i] = (float)value; break;
            case DType.F64: MemoryMarshal.Cast<byte, double>(s)[i] = value; break;
            case DType.F16: MemoryMarshal.Cast<byte, Half>(s)[i] = (Half)value; break;
            case DType.BF16: MemoryMarshal.Cast<byte, ushort>(s)[i] = BFloat16Bits.FromSingle((float)value); break;
            case DType.I64: MemoryMarshal.Cast<byte, long>(s)[i] = DoubleToInt64(value); break;
            case DType.I32: MemoryMarshal.Cast<byte, int>(s)[i] = unchecked((int)DoubleToInt64(value)); break;
            case DType.I8: s[i] = unchecked((byte)(sbyte)DoubleToInt64(value)); break;
            case DType.U8: s[i] = unchecked((byte)DoubleToInt64(value)); break;
            case DType.Bool: s[i] = value != 0 ? (byte)1 : (byte)0; break;
            default: throw new InvalidOperationException($"unknown dtype {DType}");
        }
    }

    /// <summary>Writes element <paramref name="index"/> from a 64-bit integer (exact for integer dtypes).</summary>
    public void SetInt64(long index, long value)
    {
        var s = Data.Span;
        int i = checked((int)index);
        switch (DType)
        {
            case DType.I64: MemoryMarshal.Cast<byte, long>(s)[i] = value; break;
            case DType.I32: MemoryMarshal.Cast<byte, int>(s)[i] = unchecked((int)value); break;
            case DType.I8: s[i] = unchecked((byte)(sbyte)value); break;
            case DType.U8: s[i] = unchecked((byte)value); break;
            case DType.Bool: s[i] = value != 0 ? (byte)1 : (byte)0; break;
            default: SetDouble(index, value); break;
        }
    }

    private static long DoubleToInt64(double value)
    {
        if (double.IsNaN(value))
        {
            return long.MinValue; // what x86 cvttsd2si gives, as PyTorch does on CPU
        }

        return value >= 9.2233720368547758E18 ? long.MinValue : value < -9.2233720368547758E18 ? long.MinValue : (long)value;
    }

    /// <summary>All elements widened to float32.</summary>
    public float[] ToFloat32()
    {
        if (DType == DType.F32)
        {
            return AsSpan<float>().ToArray();
        }

        var r = new float[ElementCount];
        for (long i = 0; i < r.Length; i++)
        {
            r[i] = (float)GetDouble(i);
        }

        return r;
    }

    /// <summary>All elements widened to double.</summary>
    public double[] ToFloat64()
    {
        var r = new double[ElementCount];
        for (long i = 0; i < r.Length; i++)
        {
            r[i] = GetDouble(i);
        }

        return r;
    }

    /// <summary>All elements as 64-bit integers.</summary>
    public long[] ToInt64()
    {
        var r = new long[ElementCount];
        for (long i = 0; i < r.Length; i++)
        {
            r[i] = GetInt64(i);
        }

        return r;
    }

    /// <summary>A copy converted to <paramref name="dtype"/> with the rounding rules of <see cref="SetDouble"/>.</summary>
    public HostTensor Cast(DType dtype)
    {
        var r = Zeros(dtype, _shape);
        bool exactInts = !DType.IsFloat() && !dtype.IsFloat();
        for (long i = 0; i < ElementCount; i++)
        {
            if (exactInts)
            {
                r.SetInt64(i, GetInt64(i));
            }
            else
            {
                r.SetDouble(i, GetDouble(i));
            }
        }

        return r;
    }

    /// <summary>A deep copy that owns its bytes.</summary>
    public HostTensor Clone() => new(DType, _shape, Data.ToArray());

    /// <summary>The same bytes under another shape of equal element count.</summary>
    public HostTensor Reshape(params int[] shape) => new(DType, shape, Data);

    /// <inheritdoc/>
    public override string ToString() => $"HostTensor({DType.TorchName()}, [{string.Join(", ", _shape)}])";
}
