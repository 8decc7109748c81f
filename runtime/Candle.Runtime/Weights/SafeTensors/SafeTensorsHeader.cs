using System.Text.Json;
using System.Text.Unicode;

namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// The parsed and validated JSON header of a safetensors file: the tensors in the order of their data and the
/// <c>__metadata__</c> map. Every field is checked before it is used, and nothing is allocated with a size taken
/// from the header.
/// </summary>
internal sealed class SafeTensorsHeader
{
    /// <summary>The largest header accepted, as the reference implementation does (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The name of the free-form metadata entry.</summary>
    public const string MetadataKey = "__metadata__";

    private SafeTensorsHeader(List<TensorInfo> tensors, Dictionary<string, TensorInfo> byName, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        ByName = byName;
        Metadata = metadata;
    }

    /// <summary>The tensors sorted by their data offset (header order among equal offsets).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, TensorInfo> ByName { get; }

    /// <summary>The <c>__metadata__</c> map, empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Checks that the file can hold the 8-byte header length prefix.</summary>
    public static void CheckFileLength(string path, long fileLength)
    {
        if (fileLength < 8)
        {
            throw new SafeTensorsFormatException(path, null,
                $"the file is {fileLength} bytes long, too short for the 8-byte header length");
        }
    }

    /// <summary>
    /// Checks the 8-byte prefix: the header length it gives must fit in the file and stay under the 100 MB limit.
    /// </summary>
    /// <returns>The header length in bytes.</returns>
    public static int CheckHeaderLength(string path, ulong headerLength, long fileLength)
    {
        CheckFileLength(path, fileLength);

        ulong available = (ulong)(fileLength - 8);
        if (headerLength > available)
        {
            throw new SafeTensorsFormatException(path, null,
                $"header length {headerLength} exceeds the {available} bytes that follow the 8-byte length prefix");
        }

        if (headerLength > MaxHeaderLength)
        {
            throw new SafeTensorsFormatException(path, null,
                $"header length {headerLength} exceeds the {MaxHeaderLength}-byte limit");
        }

        return (int)headerLength;
    }

    /// <summary>Parses and validates the header JSON.</summary>
    /// <param name="path">The file, for messages.</param>
    /// <param name="json">The header bytes (UTF-8 JSON, possibly padded with spaces).</param>
    /// <param name="dataStart">The file offset of the data section (8 plus the header length).</param>
    /// <param name="dataLength">The length of the data section: what follows the header up to the end of the file.</param>
    public static SafeTensorsHeader Parse(string path, ReadOnlyMemory<byte> json, long dataStart, long dataLength)
    {
        if (!Utf8.IsValid(json.Span))
        {
            throw new SafeTensorsFormatException(path, null, "the header is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(path, null, $"the header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            try
            {
                return FromJson(path, document.RootElement, dataStart, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // JsonElement accessors throw this on a value of the wrong kind; every kind is checked first,
                // so this is a safety net that keeps the promise of a format exception.
                throw new SafeTensorsFormatException(path, null, $"the header has an unexpected value ({e.Message})", e);
            }
        }
    }

    private static SafeTensorsHeader FromJson(string path, JsonElement root, long dataStart, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new SafeTensorsFormatException(path, null, $"the header is a JSON {Kind(root)}, not an object");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var byName = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var ordered = new List<(TensorInfo Info, long Begin, long End, int Index)>();
        bool sawMetadata = false;
        foreach (JsonProperty property in root.EnumerateObject())
        {
            string name = property.Name;
            if (name == MetadataKey)
            {
                if (sawMetadata)
                {
                    throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' appears twice in the header");
                }

                sawMetadata = true;
                ReadMetadata(path, property.Value, metadata);
                continue;
            }

            if (byName.ContainsKey(name))
            {
                throw new SafeTensorsFormatException(path, name, "the name appears twice in the header");
            }

            var (info, begin, end) = ReadTensor(path, name, property.Value, dataStart, dataLength);
            byName.Add(name, info);
            ordered.Add((info, begin, end, ordered.Count));
        }

        ordered.Sort(static (a, b) =>
        {
            int c = a.Begin.CompareTo(b.Begin);
            if (c == 0)
            {
                c = a.End.CompareTo(b.End);
            }

            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });

        // Empty tensors occupy no bytes and overlap nothing; every other tensor must start at or after the end
        // of the one before it.
        string? previous = null;
        long previousBegin = 0, previousEnd = 0;
        foreach (var (info, begin, end, _) in ordered)
        {
            if (begin == end)
            {
                continue;
            }

            if (previous is not null && begin < previousEnd)
            {
                throw new SafeTensorsFormatException(path, info.Name,
                    $"data_offsets [{begin}, {end}] overlap tensor '{previous}' at [{previousBegin}, {previousEnd}]");
            }

            previous = info.Name;
            previousBegin = begin;
            previousEnd = end;
        }

        var tensors = new List<TensorInfo>(ordered.Count);
        foreach (var entry in ordered)
        {
            tensors.Add(entry.Info);
        }

        return new SafeTensorsHeader(tensors, byName, metadata);
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' is a JSON {Kind(value)}, not an object of strings");
        }

        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafeTensorsFormatException(path, null,
                    $"'{MetadataKey}' entry '{Shorten(entry.Name)}' is a JSON {Kind(entry.Value)}, not a string");
            }

            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                throw new SafeTensorsFormatException(path, null, $"'{MetadataKey}' entry '{Shorten(entry.Name)}' appears twice");
            }
        }
    }

    private static (TensorInfo Info, long Begin, long End) ReadTensor(
        string path, string name, JsonElement entry, long dataStart, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new SafeTensorsFormatException(path, name, $"the entry is a JSON {Kind(entry)}, not an object");
        }

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        foreach (JsonProperty field in entry.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype": dtypeElement = Once(path, name, field, dtypeElement); break;
                case "shape": shapeElement = Once(path, name, field, shapeElement); break;
                case "data_offsets": offsetsElement = Once(path, name, field, offsetsElement); break;
                default: break; // unknown keys are ignored
            }
        }

        DType dtype = ReadDType(path, name, dtypeElement);
        int[] shape = ReadShape(path, name, shapeElement);
        var (begin, end) = ReadOffsets(path, name, offsetsElement, dataLength);

        string shapeText = $"[{string.Join(", ", shape)}]";
        long count;
        try
        {
            count = TensorInfo.ElementCountOf(shape);
        }
        catch (ArgumentException)
        {
            throw new SafeTensorsFormatException(path, name, $"shape {shapeText} has more than 2^63 elements");
        }

        long bytes;
        try
        {
            bytes = checked(count * dtype.SizeInBytes());
        }
        catch (OverflowException)
        {
            throw new SafeTensorsFormatException(path, name,
                $"{dtype.SafeTensorsName()} {shapeText} needs more than 2^63 bytes");
        }

        if (bytes != end - begin)
        {
            throw new SafeTensorsFormatException(path, name,
                $"data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype.SafeTensorsName()} {shapeText} needs {bytes}");
        }

        return (new TensorInfo(name, dtype, shape, dataStart + begin, bytes), begin, end);
    }

    private static JsonElement Once(string path, string name, JsonProperty field, JsonElement? seen)
    {
        if (seen is not null)
        {
            throw new SafeTensorsFormatException(path, name, $"'{field.Name}' appears twice");
        }

        return field.Value;
    }

    private static DType ReadDType(string path, string name, JsonElement? element)
    {
        if (element is not { } e)
        {
            throw new SafeTensorsFormatException(path, name, "'dtype' is missing");
        }

        if (e.ValueKind != JsonValueKind.String)
        {
            throw new SafeTensorsFormatException(path, name, $"'dtype' is a JSON {Kind(e)}, not a string");
        }

        string text = e.GetString()!;
        if (!DTypeExtensions.TryParseSafeTensorsName(text, out DType dtype))
        {
            throw new SafeTensorsFormatException(path, name, $"unknown dtype '{Shorten(text)}'");
        }

        return dtype;
    }

    private static int[] ReadShape(string path, string name, JsonElement? element)
    {
        if (element is not { } e)
        {
            throw new SafeTensorsFormatException(path, name, "'shape' is missing");
        }

        if (e.ValueKind != JsonValueKind.Array)
        {
            throw new SafeTensorsFormatException(path, name, $"'shape' is a JSON {Kind(e)}, not an array");
        }

        // The array is already parsed into the document, so its length is bounded by the header's size.
        var shape = new int[e.GetArrayLength()];
        int i = 0;
        foreach (JsonElement d in e.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number)
            {
                throw new SafeTensorsFormatException(path, name, $"shape dimension {i} is a JSON {Kind(d)}, not an integer");
            }

            if (!d.TryGetInt64(out long value))
            {
                string raw = d.GetRawText();
                throw new SafeTensorsFormatException(path, name,
                    raw.StartsWith('-') && !raw.Contains('.', StringComparison.Ordinal)
                        ? $"shape dimension {i} is negative ({raw})"
                        : $"shape dimension {i} ({raw}) is not an integer in range");
            }

            if (value < 0)
            {
                throw new SafeTensorsFormatException(path, name, $"shape dimension {i} is negative ({value})");
            }

            if (value > int.MaxValue)
            {
                throw new SafeTensorsFormatException(path, name,
                    $"shape dimension {i} ({value}) exceeds the largest supported dimension {int.MaxValue}");
            }

            shape[i++] = (int)value;
        }

        return shape;
    }

    private static (long Begin, long End) ReadOffsets(string path, string name, JsonElement? element, long dataLength)
    {
        if (element is not { } e)
        {
            throw new SafeTensorsFormatException(path, name, "'data_offsets' is missing");
        }

        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2)
        {
            throw new SafeTensorsFormatException(path, name,
                $"'data_offsets' must be an array of two integers [begin, end], not {Shorten(e.GetRawText())}");
        }

        ulong begin = ReadOffset(path, name, e[0], "begin");
        ulong end = ReadOffset(path, name, e[1], "end");
        if (begin > end)
        {
            throw new SafeTensorsFormatException(path, name, $"data_offsets [{begin}, {end}] begin after they end");
        }

        if (end > (ulong)dataLength)
        {
            throw new SafeTensorsFormatException(path, name,
                $"data_offsets [{begin}, {end}] reach beyond the data section of {dataLength} bytes");
        }

        return ((long)begin, (long)end);
    }

    private static ulong ReadOffset(string path, string name, JsonElement e, string which)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetUInt64(out ulong value))
        {
            throw new SafeTensorsFormatException(path, name,
                $"data_offsets {which} {Shorten(e.GetRawText())} is not a non-negative integer");
        }

        return value;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };

    private static string Shorten(string text) => SafeTensorsFormatException.Shorten(text, 40);
}
