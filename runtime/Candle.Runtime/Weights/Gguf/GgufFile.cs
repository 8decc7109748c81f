using System.Diagnostics.CodeAnalysis;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Memory;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// One GGUF file (version 2 or 3, as llama.cpp writes it), memory-mapped read-only. The header is parsed and fully
/// validated on <see cref="Open"/>; <see cref="GetRawData"/> returns zero-copy views of a tensor's stored blocks and
/// <see cref="Dequantize"/> converts a tensor to float32 in PyTorch's row-major shape.
/// </summary>
/// <remarks>
/// <para>
/// Lifetime: memory from <see cref="GetRawData"/> or <see cref="GetTensor"/> keeps the mapping alive while it is
/// reachable, even after this object is disposed. When nothing was handed out, <see cref="Dispose"/> unmaps at once.
/// The mapped bytes are read-only.
/// </para>
/// <para>Thread safety: every member may be called from several threads at once.</para>
/// </remarks>
public sealed class GgufFile : IDisposable
{
    private readonly Lock _gate = new();
    private readonly GgufHeader _header;
    private readonly Dictionary<string, GgufTensorInfo> _byName;
    private MappedFile? _mapping;
    private bool _handedOut;

    private GgufFile(string path, MappedFile mapping, GgufHeader header)
    {
        Path = path;
        _mapping = mapping;
        _header = header;
        FileLength = mapping.Length;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Tensors = Array.AsReadOnly(header.Tensors);
    }

    /// <summary>The path the file was opened with; exception messages name it so.</summary>
    public string Path { get; }

    /// <summary>The file's length in bytes.</summary>
    public long FileLength { get; }

    /// <summary>The GGUF version (2 or 3).</summary>
    public uint Version => _header.Version;

    /// <summary>The alignment of the data section and of every tensor's data (<c>general.alignment</c>, 32 by default).</summary>
    public int Alignment => _header.Alignment;

    /// <summary>The file offset of the data section, to which tensor offsets are relative.</summary>
    public long DataOffset => _header.DataOffset;

    /// <summary>The metadata key-value pairs.</summary>
    public GgufMetadata Metadata => _header.Metadata;

    /// <summary>The model architecture (<c>general.architecture</c>), or null when the file does not say.</summary>
    public string? Architecture => Metadata.TryGetValue("general.architecture", out var v) && v.Type == GgufValueType.String ? (string)v.Value : null;

    /// <summary>The tensors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Opens, maps and validates a GGUF file.</summary>
    /// <exception cref="GgufFormatException">The file is not a well-formed GGUF file; the message names the file, the tensor or key, and the problem.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be opened for reading.</exception>
    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1, FileOptions.RandomAccess);
        MappedFile? mapping = null;
        try
        {
            long length = stream.Length;
            if (length < GgufHeader.MinimumLength)
            {
                throw new GgufFormatException(path, null, null, $"the file is {length} bytes long, too short for the {GgufHeader.MinimumLength}-byte GGUF header");
            }

            mapping = MappedFile.Map(stream, length);
            var header = GgufHeader.Parse(path, mapping.Prefix((int)Math.Min(length, int.MaxValue)), length);
            return new GgufFile(path, mapping, header);
        }
        catch
        {
            if (mapping is null)
            {
                stream.Dispose();
            }
            else
            {
                mapping.Dispose();
            }

            throw;
        }
    }

    /// <summary>True when the file holds a tensor of that name.</summary>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.ContainsKey(name);
    }

    /// <summary>Looks a tensor up without throwing.</summary>
    public bool TryGetInfo(string name, [NotNullWhen(true)] out GgufTensorInfo? info)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out info);
    }

    /// <summary>The type, dimensions and location of a tensor.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name; the message names the file and the tensor.</exception>
    public GgufTensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out var info)
            ? info
            : throw new KeyNotFoundException($"{Path}: no tensor named '{GgufFormatException.Shorten(name)}'");
    }

    /// <summary>A zero-copy, read-only view of a tensor's stored bytes (its blocks, exactly as in the file).</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="NotSupportedException">The tensor is 2 GiB or larger.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlyMemory<byte> GetRawData(string name) => Slice(GetInfo(name));

    /// <summary>
    /// A zero-copy <see cref="HostTensor"/> of a tensor whose ggml type is a plain element type (F32, F16, BF16, F64,
    /// I8, I32, I64), in the row-major <see cref="GgufTensorInfo.Shape"/>. Its bytes are the read-only mapped file.
    /// </summary>
    /// <exception cref="NotSupportedException">The type is a block format (use <see cref="Dequantize"/>) or has no <see cref="DType"/>.</exception>
    public HostTensor GetTensor(string name)
    {
        var info = GetInfo(name);
        DType dtype = info.Type switch
        {
            GgmlType.F32 => DType.F32,
            GgmlType.F16 => DType.F16,
            GgmlType.BF16 => DType.BF16,
            GgmlType.F64 => DType.F64,
            GgmlType.I8 => DType.I8,
            GgmlType.I32 => DType.I32,
            GgmlType.I64 => DType.I64,
            _ => throw new NotSupportedException(
                $"{Path}: tensor '{GgufFormatException.Shorten(name)}' is {GgmlTypeTraits.Name(info.Type)}, which has no plain dtype; dequantize it instead"),
        };
        return new HostTensor(dtype, info.ShapeArray(), Slice(info));
    }

    /// <summary>
    /// The tensor converted to float32 in its row-major <see cref="GgufTensorInfo.Shape"/>, exactly as llama.cpp's
    /// <c>dequantize_row_*</c> (and gguf-py) compute it. The result owns its memory.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="NotSupportedException">The type has no dequantizer here, or the result would be 2 GiB or larger.</exception>
    public HostTensor Dequantize(string name)
    {
        var info = GetInfo(name);
        if (!GgmlTypeTraits.CanDequantize(info.Type))
        {
            throw new NotSupportedException($"{Path}: tensor '{GgufFormatException.Shorten(name)}': dequantizing {GgmlTypeTraits.Name(info.Type)} is not supported");
        }

        if (info.ElementCount > int.MaxValue / sizeof(float))
        {
            throw new NotSupportedException($"{Path}: tensor '{GgufFormatException.Shorten(name)}' has {info.ElementCount} elements, too many for one float32 tensor");
        }

        var raw = Slice(info);
        // Dequantized straight into the tensor's own memory: no second float32 copy of the weight.
        var result = new HostTensor(DType.F32, info.ShapeArray(), GC.AllocateUninitializedArray<byte>(checked((int)info.ElementCount * sizeof(float))));
        var bytes = result.Data;
        int blockSize = GgmlTypeTraits.BlockSize(info.Type);
        int blockBytes = GgmlTypeTraits.BlockBytes(info.Type);
        const int ChunkBlocks = 4096;
        long blocks = info.ElementCount / blockSize;
        int chunks = (int)((blocks + ChunkBlocks - 1) / ChunkBlocks);
        void Run(int chunk)
        {
            int first = chunk * ChunkBlocks;
            int count = (int)Math.Min(ChunkBlocks, blocks - first);
            GgmlTypeTraits.Dequantize(info.Type, raw.Span.Slice(first * blockBytes, count * blockBytes),
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.Span).Slice(first * blockSize, count * blockSize));
        }

        if (chunks > 4)
        {
            Parallel.For(0, chunks, Run);
        }
        else
        {
            for (int i = 0; i < chunks; i++)
            {
                Run(i);
            }
        }

        return result;
    }

    private Memory<byte> Slice(GgufTensorInfo info)
    {
        if (info.ByteLength > int.MaxValue)
        {
            throw new NotSupportedException($"{Path}: tensor '{GgufFormatException.Shorten(info.Name)}' is {info.ByteLength} bytes, more than one view can span");
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_mapping is null, this);
            _handedOut = true;
            return _mapping.Slice(info.FileOffset, (int)info.ByteLength);
        }
    }

    /// <summary>Closes the file; the mapping is released now if nothing was handed out, otherwise when the last view is unreachable.</summary>
    public void Dispose()
    {
        MappedFile? release;
        lock (_gate)
        {
            release = _handedOut ? null : _mapping;
            _mapping = null;
        }

        release?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"GgufFile({Path}, v{Version}, {Tensors.Count} tensors, {Metadata.Count} keys)";
}
