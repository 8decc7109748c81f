using Candle.Runtime.Tensors;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// A matrix [<see cref="Rows"/>, <see cref="Cols"/>] stored in a ggml block format: each row is
/// <see cref="Cols"/> / block size blocks, rows back to back, exactly as a GGUF file stores a 2-d tensor. The bytes are
/// borrowed (typically a memory-mapped view of the file) and never converted to float32 by the tensor itself; matrix
/// products and lookups read them through the quantized kernels.
/// </summary>
public sealed class QuantizedTensor
{
    /// <summary>Wraps stored blocks; checks the type and that the bytes hold exactly <paramref name="rows"/> whole rows.</summary>
    /// <param name="type">The block format.</param>
    /// <param name="rows">The number of rows (a matmul's output features, an embedding's vocabulary).</param>
    /// <param name="cols">The values per row (a matmul's input features); a multiple of the block size.</param>
    /// <param name="data">The stored blocks, borrowed (not copied); the caller keeps them alive while the tensor is used.</param>
    /// <param name="name">The tensor's name, for messages and plan listings.</param>
    /// <exception cref="ArgumentException">The type has no quantized kernels, a row is not a whole number of blocks, or the byte count is wrong; the message names the tensor.</exception>
    public QuantizedTensor(GgmlType type, int rows, int cols, ReadOnlyMemory<byte> data, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name;
        if (!IsSupported(type))
        {
            throw new ArgumentException($"quantized tensor '{name}': ggml type {GgmlTypeTraits.Name(type)} has no quantized kernels", nameof(type));
        }

        if (rows <= 0 || cols <= 0)
        {
            throw new ArgumentException($"quantized tensor '{name}': shape [{rows}, {cols}] must be positive", nameof(rows));
        }

        int blockSize = GgmlTypeTraits.BlockSize(type);
        if (cols % blockSize != 0)
        {
            throw new ArgumentException($"quantized tensor '{name}': a row of {cols} values is not a whole number of {blockSize}-value {GgmlTypeTraits.Name(type)} blocks", nameof(cols));
        }

        long rowBytes = cols / blockSize * (long)GgmlTypeTraits.BlockBytes(type);
        long expected = rowBytes * rows;
        if (data.Length != expected)
        {
            throw new ArgumentException($"quantized tensor '{name}': {data.Length} bytes stored, but [{rows}, {cols}] in {GgmlTypeTraits.Name(type)} needs {expected}", nameof(data));
        }

        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = checked((int)rowBytes);
        Storage = new HostTensor(DType.U8, [data.Length], System.Runtime.InteropServices.MemoryMarshal.AsMemory(data));
    }

    /// <summary>The block format.</summary>
    public GgmlType Type { get; }

    /// <summary>The number of rows.</summary>
    public int Rows { get; }

    /// <summary>The number of values per row.</summary>
    public int Cols { get; }

    /// <summary>The bytes of one row.</summary>
    public int RowBytes { get; }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }

    /// <summary>The stored blocks as a byte tensor [Rows · RowBytes] (a view, not a copy); plans bind it as a weight.</summary>
    public HostTensor Storage { get; }

    /// <summary>True for the types with quantized kernels: f32, f16, bf16, every legacy and k-quant block type ggml stores, IQ4_NL and IQ4_XS.</summary>
    public static bool IsSupported(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K
        or GgmlType.IQ4_NL or GgmlType.IQ4_XS;

    /// <summary>
    /// The first block whose f16 scale (or minimum) is a NaN or an infinity, or −1: such a block dequantizes to
    /// non-finite values. Float tensors (f32, f16, bf16) are not scanned.
    /// </summary>
    public long FirstNonFiniteScale()
    {
        int[] offsets = Type switch
        {
            GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 or GgmlType.IQ4_NL or GgmlType.IQ4_XS => [0],
            GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
            GgmlType.Q2_K => [80, 82],
            GgmlType.Q3_K => [108],
            GgmlType.Q6_K => [208],
            _ => [],
        };
        if (offsets.Length == 0) return -1;
        int blockBytes = GgmlTypeTraits.BlockBytes(Type);
        var bytes = Storage.Data.Span;
        long blocks = bytes.Length / blockBytes;
        for (long b = 0; b < blocks; b++)
        {
            foreach (int o in offsets)
            {
                int at = checked((int)(b * blockBytes)) + o;
                if ((bytes[at + 1] & 0x7C) == 0x7C) return b;
            }
        }

        return -1;
    }

    /// <summary>The exact float32 values [Rows, Cols] (a new tensor; the reference semantics of the stored blocks).</summary>
    public HostTensor Dequantize()
    {
        var t = HostTensor.Zeros(DType.F32, Rows, Cols);
        GgmlTypeTraits.Dequantize(Type, Storage.Data.Span, t.AsSpan<float>());
        return t;
    }

    /// <inheritdoc/>
    public override string ToString() => $"QuantizedTensor({Name}, {GgmlTypeTraits.Name(Type)}, [{Rows}, {Cols}])";
}
