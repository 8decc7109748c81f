using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using Candle.Runtime.Tensors;

namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// Writes safetensors files: the 8-byte header length, the JSON header padded with spaces so that the data
/// section starts at a multiple of 8 (as the reference implementation pads it), then each tensor's bytes in the
/// order given, back to back.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Writes a safetensors file. The file is written beside <paramref name="path"/> under a temporary name and
    /// then moved over it, so readers never see a half-written file.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Names and tensors, in the order their bytes are written.</param>
    /// <param name="metadata">The <c>__metadata__</c> map to store, or null for none.</param>
    /// <exception cref="ArgumentException">A name repeats, is <c>__metadata__</c>, or a tensor is null.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, HostTensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = Collect(tensors);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                WriteCore(stream, list, metadata);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Writes a safetensors file of stored entries (any safetensors dtype, see <see cref="SafeTensorsEntry"/>), beside
    /// <paramref name="path"/> under a temporary name and then moved over it.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="entries">The tensors, in the order their bytes are written.</param>
    /// <exception cref="ArgumentException">A name repeats or is <c>__metadata__</c>, a dtype is not one of the format's, or
    /// an entry's byte count does not match its shape (the message names the tensor).</exception>
    public static void WriteEntries(string path, IEnumerable<SafeTensorsEntry> entries)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(entries);
        var list = Collect(entries.Select(e => e ?? throw new ArgumentException("an entry is null", nameof(entries))));
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                WriteCore(stream, list, null);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Writes a safetensors file to a stream, from its current position.</summary>
    /// <param name="stream">A writable stream; it is left open.</param>
    /// <param name="tensors">Names and tensors, in the order their bytes are written.</param>
    /// <param name="metadata">The <c>__metadata__</c> map to store, or null for none.</param>
    /// <exception cref="ArgumentException">A name repeats, is <c>__metadata__</c>, or a tensor is null.</exception>
    public static void WriteToStream(Stream stream, IEnumerable<KeyValuePair<string, HostTensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        WriteCore(stream, Collect(tensors), metadata);
    }

    /// <summary>The whole file as bytes (for small files and tests).</summary>
    public static byte[] ToBytes(IEnumerable<KeyValuePair<string, HostTensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var stream = new MemoryStream();
        WriteToStream(stream, tensors, metadata);
        return stream.ToArray();
    }

    private static List<SafeTensorsEntry> Collect(IEnumerable<KeyValuePair<string, HostTensor>> tensors) =>
        Collect(tensors.Select(pair => pair.Key is null || pair.Value is null
            ? throw new ArgumentException("a tensor or its name is null", nameof(tensors))
            : new SafeTensorsEntry(pair.Key, pair.Value.DType.SafeTensorsName(), pair.Value.Shape, pair.Value.Data)));

    private static List<SafeTensorsEntry> Collect(IEnumerable<SafeTensorsEntry> entries)
    {
        var list = new List<SafeTensorsEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.Name is null)
            {
                throw new ArgumentException("a tensor's name is null", nameof(entries));
            }

            if (entry.Name == SafeTensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"'{SafeTensorsHeader.MetadataKey}' is reserved and cannot name a tensor", nameof(entries));
            }

            if (!seen.Add(entry.Name))
            {
                throw new ArgumentException($"tensor '{entry.Name}' is given twice", nameof(entries));
            }

            int size = SafeTensorsEntry.ElementSize(entry.DType)
                ?? throw new ArgumentException($"tensor '{entry.Name}': '{entry.DType}' is not a safetensors dtype", nameof(entries));
            long count = 1;
            foreach (int d in entry.Shape)
            {
                count = d < 0 ? throw new ArgumentException($"tensor '{entry.Name}' has a negative dim", nameof(entries)) : checked(count * d);
            }

            if (count * size != entry.Data.Length)
            {
                throw new ArgumentException($"tensor '{entry.Name}': {entry.Data.Length} bytes for {count} elements of {entry.DType}", nameof(entries));
            }

            list.Add(entry);
        }

        return list;
    }

    private static void WriteCore(Stream stream, List<SafeTensorsEntry> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var header = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(header, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var tensor in tensors)
            {
                long end = offset + tensor.Data.Length;
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType);
                json.WriteStartArray("shape");
                foreach (int d in tensor.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }

            json.WriteEndObject();
        }

        int padding = (8 - (header.WrittenCount % 8)) % 8;
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)(header.WrittenCount + padding));
        stream.Write(prefix);
        stream.Write(header.WrittenSpan);
        Span<byte> spaces = stackalloc byte[8];
        spaces.Fill((byte)' ');
        stream.Write(spaces[..padding]);
        foreach (var tensor in tensors)
        {
            stream.Write(tensor.Data.Span);
        }

        stream.Flush();
    }
}
