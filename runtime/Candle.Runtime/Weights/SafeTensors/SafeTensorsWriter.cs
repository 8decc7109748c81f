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

    private static List<KeyValuePair<string, HostTensor>> Collect(IEnumerable<KeyValuePair<string, HostTensor>> tensors)
    {
        var list = new List<KeyValuePair<string, HostTensor>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in tensors)
        {
            if (pair.Key is null || pair.Value is null)
            {
                throw new ArgumentException("a tensor or its name is null", nameof(tensors));
            }

            if (pair.Key == SafeTensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"'{SafeTensorsHeader.MetadataKey}' is reserved and cannot name a tensor", nameof(tensors));
            }

            if (!seen.Add(pair.Key))
            {
                throw new ArgumentException($"tensor '{pair.Key}' is given twice", nameof(tensors));
            }

            list.Add(pair);
        }

        return list;
    }

    private static void WriteCore(Stream stream, List<KeyValuePair<string, HostTensor>> tensors,
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
            foreach (var (name, tensor) in tensors)
            {
                long end = offset + tensor.Data.Length;
                json.WriteStartObject(name);
                json.WriteString("dtype", tensor.DType.SafeTensorsName());
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
        foreach (var (_, tensor) in tensors)
        {
            stream.Write(tensor.Data.Span);
        }

        stream.Flush();
    }
}
