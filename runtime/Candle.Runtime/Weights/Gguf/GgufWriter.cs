using System.Runtime.InteropServices;
using System.Text;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// Builds a GGUF v3 file as llama.cpp's writers do: header, metadata in the order added, tensor infos, padding to the
/// alignment, then each tensor's data padded to the alignment with zeros. Tensors can be given as raw blocks or as
/// <see cref="HostTensor"/>s converted to F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 or Q5_1 with llama.cpp's reference rounding.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<(string Name, GgmlType Type, long[] Dims, ReadOnlyMemory<byte> Data)> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _alignment = GgufHeader.DefaultAlignment;

    /// <summary>The GGUF version written (2 or 3; the layouts are the same).</summary>
    public uint Version { get; init; } = 3;

    /// <summary>
    /// The data alignment (a power of two, 32 by default). A value other than 32 is also written as <c>general.alignment</c>
    /// unless that key was added explicitly.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a power of two between 1 and 2^20.</exception>
    public int Alignment
    {
        get => _alignment;
        set
        {
            if (value <= 0 || (value & (value - 1)) != 0 || value > GgufHeader.MaxAlignment)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "the alignment must be a power of two between 1 and 2^20");
            }

            _alignment = value;
        }
    }

    /// <summary>Adds a metadata pair.</summary>
    /// <exception cref="ArgumentException">The key is empty or was already added.</exception>
    public GgufWriter Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_keys.Add(key))
        {
            throw new ArgumentException($"metadata key '{key}' was already added", nameof(key));
        }

        _metadata.Add(KeyValuePair.Create(key, value));
        return this;
    }

    /// <summary>Adds a string metadata pair.</summary>
    public GgufWriter Add(string key, string value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a UInt32 metadata pair.</summary>
    public GgufWriter Add(string key, uint value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a Float32 metadata pair.</summary>
    public GgufWriter Add(string key, float value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a Bool metadata pair.</summary>
    public GgufWriter Add(string key, bool value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a tensor from its stored bytes, which must be exactly the blocks the type and dimensions call for.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="type">The ggml type of the data.</param>
    /// <param name="ggmlDims">ggml's dimensions, innermost first (at most 4).</param>
    /// <param name="data">The stored bytes (not copied: keep them unchanged until written).</param>
    /// <exception cref="ArgumentException">The name was used, the type is unknown, or the dimensions and data do not agree.</exception>
    public GgufWriter AddTensor(string name, GgmlType type, ReadOnlySpan<long> ggmlDims, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!GgmlTypeTraits.TryGetLayout(type, out int blockSize, out _))
        {
            throw new ArgumentException($"{(int)type} is not a ggml type", nameof(type));
        }

        if (ggmlDims.Length > GgufHeader.MaxDims)
        {
            throw new ArgumentException($"tensor '{name}' has {ggmlDims.Length} dimensions, more than {GgufHeader.MaxDims}", nameof(ggmlDims));
        }

        long count = 1;
        foreach (long d in ggmlDims)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(ggmlDims));
            count = checked(count * d);
        }

        long ne0 = ggmlDims.Length > 0 ? ggmlDims[0] : 1;
        if (ne0 % blockSize != 0)
        {
            throw new ArgumentException($"tensor '{name}': {GgmlTypeTraits.Name(type)} rows must be a multiple of {blockSize} values, not {ne0}", nameof(ggmlDims));
        }

        long bytes = GgmlTypeTraits.ByteCount(type, count);
        if (bytes != data.Length)
        {
            throw new ArgumentException($"tensor '{name}': {GgmlTypeTraits.Name(type)} [{string.Join(", ", ggmlDims.ToArray())}] needs {bytes} bytes, not {data.Length}", nameof(data));
        }

        if (!_names.Add(name))
        {
            throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        }

        _tensors.Add((name, type, ggmlDims.ToArray(), data));
        return this;
    }

    /// <summary>
    /// Adds a tensor given in PyTorch's row-major shape, converted to <paramref name="type"/>. Float tensors are converted
    /// through float32 (every type <see cref="GgmlTypeTraits.CanQuantize"/> accepts); the last dimension must be a whole number of blocks.
    /// An integer tensor is stored as the ggml integer type of its own dtype (I8, I32, I64) when <paramref name="type"/> names it.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor cannot be stored as that type.</exception>
    public GgufWriter AddTensor(string name, HostTensor tensor, GgmlType type)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var dims = tensor.ShapeArray().Reverse().Select(d => (long)d).ToArray();
        bool plainMatch = (type, tensor.DType) is (GgmlType.I8, DType.I8) or (GgmlType.I32, DType.I32) or (GgmlType.I64, DType.I64)
            or (GgmlType.F64, DType.F64);
        if (plainMatch)
        {
            return AddTensor(name, type, dims, tensor.Data.ToArray());
        }

        if (!GgmlTypeTraits.CanQuantize(type) || !tensor.DType.IsFloat())
        {
            throw new ArgumentException($"tensor '{name}': cannot store a {tensor.DType.TorchName()} tensor as {GgmlTypeTraits.Name(type)}", nameof(type));
        }

        int blockSize = GgmlTypeTraits.BlockSize(type);
        long ne0 = dims.Length > 0 ? dims[0] : 1;
        if (ne0 % blockSize != 0)
        {
            throw new ArgumentException($"tensor '{name}': {GgmlTypeTraits.Name(type)} needs a last dimension that is a multiple of {blockSize}, not {ne0}", nameof(tensor));
        }

        float[] values = tensor.ToFloat32();
        var bytes = new byte[GgmlTypeTraits.ByteCount(type, values.Length)];
        GgmlTypeTraits.Quantize(type, values, bytes);
        return AddTensor(name, type, dims, bytes);
    }

    /// <summary>Writes the file to <paramref name="path"/>, replacing it.</summary>
    public void Write(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        WriteTo(stream);
    }

    /// <summary>The whole file as bytes.</summary>
    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        WriteTo(ms);
        return ms.ToArray();
    }

    /// <summary>Writes the file to a stream.</summary>
    /// <exception cref="InvalidOperationException">An explicit <c>general.alignment</c> disagrees with <see cref="Alignment"/>.</exception>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var metadata = new List<KeyValuePair<string, GgufValue>>(_metadata);
        var explicitAlignment = metadata.FirstOrDefault(p => p.Key == GgufHeader.AlignmentKey).Value;
        if (explicitAlignment is not null)
        {
            if (explicitAlignment.Value is not uint a || a != (uint)_alignment)
            {
                throw new InvalidOperationException($"metadata {GgufHeader.AlignmentKey} = {explicitAlignment} disagrees with the writer's alignment {_alignment} (it must be a UInt32)");
            }
        }
        else if (_alignment != GgufHeader.DefaultAlignment)
        {
            metadata.Add(KeyValuePair.Create(GgufHeader.AlignmentKey, GgufValue.From((uint)_alignment)));
        }

        var header = new MemoryStream();
        var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufHeader.Magic);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value);
        }

        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var (name, type, dims, data) = _tensors[i];
            WriteString(w, name);
            w.Write((uint)dims.Length);
            foreach (long d in dims)
            {
                w.Write((ulong)d);
            }

            w.Write((uint)type);
            w.Write((ulong)offset);
            offsets[i] = offset;
            offset = GgufHeader.AlignUp(offset + data.Length, _alignment);
        }

        w.Flush();
        long headerLength = header.Length;
        header.Position = 0;
        header.CopyTo(stream);
        WritePadding(stream, GgufHeader.AlignUp(headerLength, _alignment) - headerLength);
        for (int i = 0; i < _tensors.Count; i++)
        {
            var data = _tensors[i].Data;
            stream.Write(data.Span);
            WritePadding(stream, GgufHeader.AlignUp(data.Length, _alignment) - data.Length);
        }
    }

    private static void WritePadding(Stream stream, long count)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            stream.Write(zeros[..n]);
            count -= n;
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue value)
    {
        switch (value.Value)
        {
            case byte v: w.Write(v); break;
            case sbyte v: w.Write(v); break;
            case ushort v: w.Write(v); break;
            case short v: w.Write(v); break;
            case uint v: w.Write(v); break;
            case int v: w.Write(v); break;
            case float v: w.Write(v); break;
            case bool v: w.Write(v ? (byte)1 : (byte)0); break;
            case string v: WriteString(w, v); break;
            case ulong v: w.Write(v); break;
            case long v: w.Write(v); break;
            case double v: w.Write(v); break;
            case GgufArray a: WriteArray(w, a); break;
            default: throw new InvalidOperationException($"cannot write a GGUF value of type {value.Value.GetType().Name}");
        }
    }

    private static void WriteArray(BinaryWriter w, GgufArray a)
    {
        w.Write((uint)a.ElementType);
        w.Write((ulong)a.Count);
        switch (a.Items)
        {
            case byte[] v: w.Write(v); break;
            case sbyte[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case bool[] v:
                foreach (bool b in v)
                {
                    w.Write(b ? (byte)1 : (byte)0);
                }

                break;
            case string[] v:
                foreach (string s in v)
                {
                    WriteString(w, s);
                }

                break;
            case GgufArray[] v:
                foreach (var inner in v)
                {
                    WriteArray(w, inner);
                }

                break;
            case ushort[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case short[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case uint[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case int[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case float[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case ulong[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case long[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            case double[] v: w.Write(MemoryMarshal.AsBytes(v.AsSpan())); break;
            default: throw new InvalidOperationException($"cannot write a GGUF array of {a.Items.GetType().Name}");
        }
    }
}
