using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Candle.Runtime.Tensors;
using Candle.Runtime.Memory;

namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// One safetensors file, memory-mapped read-only. The header is parsed and fully validated on
/// <see cref="Open"/>; <see cref="Get"/> returns zero-copy tensors whose bytes are the mapped file.
/// </summary>
/// <remarks>
/// <para>
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object mapping each tensor name
/// to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c>, plus an optional <c>__metadata__</c> object of
/// strings), then the data section, to which the offsets are relative.
/// </para>
/// <para>
/// Lifetime: a tensor from <see cref="Get"/> keeps the mapping alive for as long as it (or its
/// <see cref="HostTensor.Data"/>) is reachable, even after this object is disposed; the mapping is then released
/// when the last such tensor is collected. When no tensor was handed out, <see cref="Dispose"/> releases the
/// mapping at once. Hold the tensor, not just a <see cref="Span{T}"/> of its bytes, while reading them.
/// The bytes are mapped read-only: writing through a loaded tensor's span faults. Clone it to modify it.
/// </para>
/// <para>Thread safety: every member may be called from several threads at once.</para>
/// </remarks>
public sealed class SafeTensorsFile : ISafeTensorsSource
{
    private readonly Lock _gate = new();
    private readonly SafeTensorsHeader _header;
    private readonly string[] _names;
    private MappedFile? _mapping;
    private bool _handedOut;

    private SafeTensorsFile(string path, MappedFile mapping, SafeTensorsHeader header, int headerLength)
    {
        Path = path;
        _mapping = mapping;
        _header = header;
        FileLength = mapping.Length;
        DataOffset = 8L + headerLength;
        _names = new string[header.Tensors.Count];
        for (int i = 0; i < _names.Length; i++)
        {
            _names[i] = header.Tensors[i].Name;
        }

        Names = Array.AsReadOnly(_names);
    }

    /// <summary>The path the file was opened with; exception messages name it so.</summary>
    public string Path { get; }

    /// <summary>The file's length in bytes.</summary>
    public long FileLength { get; }

    /// <summary>The file offset of the data section: 8 plus the header length.</summary>
    public long DataOffset { get; }

    /// <summary>The tensor names, in the order of their data in the file.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The tensors, in the order of their data in the file.</summary>
    public IReadOnlyList<TensorInfo> Tensors => _header.Tensors;

    /// <summary>The header's <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Opens, maps and validates a safetensors file.</summary>
    /// <param name="path">The file to open.</param>
    /// <exception cref="SafeTensorsFormatException">The file is not a well-formed safetensors file; the message names the file, the tensor if any, and the problem.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be opened for reading.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete,
            bufferSize: 1, FileOptions.RandomAccess);
        MappedFile? mapping = null;
        try
        {
            long fileLength = stream.Length;
            SafeTensorsHeader.CheckFileLength(path, fileLength);

            mapping = MappedFile.Map(stream, fileLength);
            int headerLength;
            unsafe
            {
                ulong prefix = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(mapping.At(0), 8));
                headerLength = SafeTensorsHeader.CheckHeaderLength(path, prefix, fileLength);
            }

            long dataStart = 8L + headerLength;
            var header = SafeTensorsHeader.Parse(path, mapping.Slice(8, headerLength), dataStart, fileLength - dataStart);
            return new SafeTensorsFile(path, mapping, header, headerLength);
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
        return _header.ByName.ContainsKey(name);
    }

    /// <summary>Looks a tensor up without throwing.</summary>
    public bool TryGetInfo(string name, [NotNullWhen(true)] out TensorInfo? info)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _header.ByName.TryGetValue(name, out info);
    }

    /// <summary>The dtype, shape and location of a tensor.</summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name; the message names the file and the tensor.</exception>
    public TensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_header.ByName.TryGetValue(name, out var info))
        {
            throw new KeyNotFoundException($"{Path}: no tensor named '{SafeTensorsFormatException.Shorten(name, 200)}'");
        }

        return info;
    }

    /// <summary>
    /// The tensor as a zero-copy <see cref="HostTensor"/> over the mapped file: its <see cref="HostTensor.Data"/> is
    /// not array-backed and is read-only (clone the tensor to modify it).
    /// </summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name; the message names the file and the tensor.</exception>
    /// <exception cref="NotSupportedException">The tensor is 2 GiB or larger, more than one <see cref="Memory{T}"/> can span.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public HostTensor Get(string name)
    {
        var info = GetInfo(name);
        if (info.Length > int.MaxValue)
        {
            throw new NotSupportedException(
                $"{Path}: tensor '{SafeTensorsFormatException.Shorten(name, 200)}' is {info.Length} bytes, more than one tensor view can span ({int.MaxValue})");
        }

        Memory<byte> bytes;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_mapping is null, this);
            _handedOut = true;
            bytes = _mapping.Slice(info.Offset, (int)info.Length);
        }

        return new HostTensor(info.DType, info.ShapeArray(), bytes);
    }

    /// <summary>
    /// Closes the file. The mapping is released now if no tensor was handed out, otherwise when the last tensor
    /// from <see cref="Get"/> is no longer reachable.
    /// </summary>
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
    public override string ToString() => $"SafeTensorsFile({Path}, {_names.Length} tensors)";
}
