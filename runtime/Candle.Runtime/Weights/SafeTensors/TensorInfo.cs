namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>Where one tensor of a safetensors file lies, and its element type and shape.</summary>
public sealed class TensorInfo
{
    private readonly int[] _shape;

    /// <summary>Describes a tensor.</summary>
    /// <param name="name">The tensor's name in the header.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions, outermost first (empty for a scalar).</param>
    /// <param name="offset">The byte offset of the first element from the start of the file.</param>
    /// <param name="length">The number of bytes the tensor occupies.</param>
    /// <exception cref="ArgumentException">A dimension is negative or the element count overflows.</exception>
    public TensorInfo(string name, DType dtype, ReadOnlySpan<int> shape, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name;
        DType = dtype;
        _shape = shape.ToArray();
        Shape = Array.AsReadOnly(_shape);
        Offset = offset;
        Length = length;
        ElementCount = ElementCountOf(_shape);
    }

    /// <summary>The tensor's name in the header.</summary>
    public string Name { get; }

    /// <summary>
    /// The product of the dimensions, multiplied outermost first with overflow checks, as the reference
    /// implementation and <see cref="Tensors.HostTensor"/> compute it: 1 for a scalar, 0 when a dimension is 0,
    /// but an error when the dimensions before a 0 already overflow.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension is negative or the product overflows a 64-bit integer.</exception>
    public static long ElementCountOf(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"shape [{string.Join(", ", shape.ToArray())}] has a negative dimension", nameof(shape));
            }

            if (d != 0 && count > long.MaxValue / d)
            {
                throw new ArgumentException($"shape [{string.Join(", ", shape.ToArray())}] has more than 2^63 elements", nameof(shape));
            }

            count *= d;
        }

        return count;
    }

    /// <summary>The element type.</summary>
    public DType DType { get; }

    /// <summary>The dimensions, outermost first (empty for a scalar).</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Number of elements: the product of the dimensions, 1 for a scalar, 0 when a dimension is 0.</summary>
    public long ElementCount { get; }

    /// <summary>The byte offset of the first element from the start of the file (not of the data section).</summary>
    public long Offset { get; }

    /// <summary>The number of bytes the tensor occupies (<see cref="ElementCount"/> times the dtype size).</summary>
    public long Length { get; }

    /// <summary>The shape as a new array.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {DType.SafeTensorsName()} [{string.Join(", ", _shape)}] at {Offset} ({Length} bytes)";
}
