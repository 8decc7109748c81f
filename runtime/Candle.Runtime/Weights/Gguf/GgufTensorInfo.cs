using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// One tensor of a GGUF file: name, ggml type, dimensions and location. ggml lists dimensions innermost first
/// (<see cref="GgmlDims"/>: ne[0] is the row length); <see cref="Shape"/> is the same reversed, PyTorch's row-major order.
/// </summary>
public sealed class GgufTensorInfo
{
    private readonly long[] _ggmlDims;
    private readonly int[] _shape;

    internal GgufTensorInfo(string name, GgmlType type, long[] ggmlDims, long elementCount, long offset, long fileOffset, long byteLength)
    {
        Name = name;
        Type = type;
        _ggmlDims = ggmlDims;
        _shape = new int[ggmlDims.Length];
        for (int i = 0; i < ggmlDims.Length; i++)
        {
            _shape[i] = checked((int)ggmlDims[ggmlDims.Length - 1 - i]);
        }

        GgmlDims = Array.AsReadOnly(_ggmlDims);
        Shape = Array.AsReadOnly(_shape);
        ElementCount = elementCount;
        Offset = offset;
        FileOffset = fileOffset;
        ByteLength = byteLength;
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }

    /// <summary>The ggml element or block type.</summary>
    public GgmlType Type { get; }

    /// <summary>ggml's dimensions, innermost (contiguous) first: [ne0, ne1, ...].</summary>
    public IReadOnlyList<long> GgmlDims { get; }

    /// <summary>The dimensions outermost first, as PyTorch and <see cref="Tensors.HostTensor"/> order them.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The number of values.</summary>
    public long ElementCount { get; }

    /// <summary>The offset of the data from the start of the data section, as the file stores it.</summary>
    public long Offset { get; }

    /// <summary>The offset of the data from the start of the file.</summary>
    public long FileOffset { get; }

    /// <summary>The number of bytes of data (element count / block size × block bytes).</summary>
    public long ByteLength { get; }

    /// <summary>The row-major shape as a new array.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {GgmlTypeTraits.Name(Type)} [{string.Join(", ", _shape)}] at {FileOffset} ({ByteLength} bytes)";
}
