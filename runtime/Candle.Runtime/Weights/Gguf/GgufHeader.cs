using Candle.Runtime.Kernels.Quant;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// The parsed and validated header of a GGUF v2 or v3 file: version, metadata, tensor infos and the data section.
/// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 key-value count, the key-value pairs (u64-length
/// string key, u32 value type, value), the tensor infos (name, u32 dimension count, u64 dimensions innermost first,
/// u32 ggml type, u64 offset into the data section), padding to <c>general.alignment</c> (default 32), the data.
/// </summary>
internal sealed class GgufHeader
{
    /// <summary>The 4 magic bytes.</summary>
    public static ReadOnlySpan<byte> Magic => "GGUF"u8;

    /// <summary>The smallest well-formed file: magic, version and the two counts.</summary>
    public const int MinimumLength = 24;

    /// <summary>The deepest nesting of arrays within arrays accepted.</summary>
    public const int MaxArrayDepth = 8;

    /// <summary>The largest alignment accepted (ggml's limit).</summary>
    public const int MaxAlignment = 1 << 20;

    /// <summary>The most dimensions a tensor may have (ggml's GGML_MAX_DIMS).</summary>
    public const int MaxDims = 4;

    /// <summary>The alignment used when the file does not set <c>general.alignment</c>.</summary>
    public const int DefaultAlignment = 32;

    /// <summary>The metadata key of the alignment.</summary>
    public const string AlignmentKey = "general.alignment";

    private GgufHeader(uint version, GgufMetadata metadata, int alignment, long dataOffset, GgufTensorInfo[] tensors)
    {
        Version = version;
        Metadata = metadata;
        Alignment = alignment;
        DataOffset = dataOffset;
        Tensors = tensors;
    }

    public uint Version { get; }

    public GgufMetadata Metadata { get; }

    public int Alignment { get; }

    public long DataOffset { get; }

    public GgufTensorInfo[] Tensors { get; }

    /// <summary>Parses the header from the start of the file. <paramref name="bytes"/> holds the file's first bytes (up to 2 GiB).</summary>
    public static GgufHeader Parse(string path, ReadOnlySpan<byte> bytes, long fileLength)
    {
        var c = new GgufCursor(path, bytes);
        if (fileLength < MinimumLength)
        {
            throw c.Error($"the file is {fileLength} bytes long, too short for the {MinimumLength}-byte GGUF header");
        }

        var magic = c.ReadBytes(4, "the magic");
        if (!magic.SequenceEqual(Magic))
        {
            throw c.Error($"bad magic {Convert.ToHexString(magic)} (expected 47475546, \"GGUF\"): not a GGUF file");
        }

        uint version = c.ReadU32("the version");
        if (version is 2 or 3)
        {
            // supported
        }
        else if (version == 1)
        {
            throw c.Error("GGUF version 1 is not supported (only versions 2 and 3)");
        }
        else if (version != 0 && (version & 0xFFFF) == 0)
        {
            throw c.Error($"GGUF version 0x{version:X8} looks byte-swapped: big-endian files are not supported");
        }
        else
        {
            throw c.Error($"GGUF version {version} is not supported (only versions 2 and 3)");
        }

        ulong tensorCount = c.ReadU64("the tensor count");
        ulong kvCount = c.ReadU64("the metadata count");

        // Every key-value pair takes at least 13 bytes (8 key length, 1 key byte, 4 type) and every tensor info at
        // least 24 (8 name length, 4 dimension count, 4 type, 8 offset): bound both counts before using them.
        if (kvCount > (ulong)(c.Remaining / 13))
        {
            throw c.Error($"metadata count {kvCount} is more than the {c.Remaining} bytes left in the file can hold");
        }

        if (tensorCount > (ulong)(c.Remaining / 24))
        {
            throw c.Error($"tensor count {tensorCount} is more than the {c.Remaining} bytes left in the file can hold");
        }

        var pairs = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = c.ReadString($"the key of metadata pair {i}", strict: true);
            c.Key = key;
            if (key.Length == 0)
            {
                throw c.Error($"metadata pair {i} has an empty key");
            }

            if (!keys.Add(key))
            {
                throw c.Error("the key appears twice");
            }

            uint type = c.ReadU32("the value type");
            pairs.Add(KeyValuePair.Create(key, ReadValue(ref c, type, 0)));
            c.Key = null;
        }

        var metadata = new GgufMetadata(path, pairs);
        int alignment = DefaultAlignment;
        if (metadata.TryGetValue(AlignmentKey, out var alignValue))
        {
            c.Key = AlignmentKey;
            if (alignValue.Type != GgufValueType.UInt32)
            {
                throw c.Error($"the alignment must be a UInt32, not a {alignValue.Type}");
            }

            uint a = (uint)alignValue.Value;
            if (a == 0 || (a & (a - 1)) != 0 || a > MaxAlignment)
            {
                throw c.Error($"alignment {a} is not a power of two between 1 and {MaxAlignment}");
            }

            alignment = (int)a;
            c.Key = null;
        }

        var tensors = new (string Name, GgmlType Type, long[] Dims, long Count, long Bytes, ulong Offset)[(int)tensorCount];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Length; i++)
        {
            string name = c.ReadString($"the name of tensor {i}", strict: true);
            c.Tensor = name;
            if (!names.Add(name))
            {
                throw c.Error("the tensor name appears twice");
            }

            uint nDims = c.ReadU32("the dimension count");
            if (nDims > MaxDims)
            {
                throw c.Error($"{nDims} dimensions, more than the {MaxDims} ggml supports");
            }

            var dims = new long[nDims];
            long count = 1;
            for (int d = 0; d < dims.Length; d++)
            {
                ulong dim = c.ReadU64("a dimension");
                if (dim > int.MaxValue)
                {
                    throw c.Error($"dimension {d} is {dim}, more than {int.MaxValue}");
                }

                dims[d] = (long)dim;
                count = dim == 0 || count <= long.MaxValue / (long)dim ? count * (long)dim
                    : throw c.Error($"dimensions [{string.Join(", ", dims[..(d + 1)])}] hold more than 2^63 elements");
            }

            uint typeId = c.ReadU32("the ggml type");
            var type = (GgmlType)typeId;
            if (!GgmlTypeTraits.TryGetLayout(type, out int blockSize, out int blockBytes))
            {
                throw c.Error($"unknown ggml type {typeId}");
            }

            long ne0 = dims.Length > 0 ? dims[0] : 1;
            if (ne0 % blockSize != 0)
            {
                throw c.Error($"type {GgmlTypeTraits.Name(type)} needs rows (ggml dimension 0) that are a multiple of {blockSize} values, but dimension 0 is {ne0}");
            }

            long blocks = count / blockSize;
            long bytesNeeded = blocks <= long.MaxValue / blockBytes ? blocks * blockBytes
                : throw c.Error($"{count} elements of type {GgmlTypeTraits.Name(type)} take more than 2^63 bytes");
            ulong offset = c.ReadU64("the data offset");
            tensors[i] = (name, type, dims, count, bytesNeeded, offset);
            c.Tensor = null;
        }

        long dataOffset = AlignUp(c.Position, alignment);
        if (tensors.Length > 0 && dataOffset > fileLength)
        {
            throw c.Error($"the data section would start at byte {dataOffset}, beyond the end of the {fileLength}-byte file");
        }

        dataOffset = Math.Min(dataOffset, fileLength);
        long dataLength = fileLength - dataOffset;
        var infos = new GgufTensorInfo[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            var t = tensors[i];
            c.Tensor = t.Name;
            if (t.Offset % (ulong)alignment != 0)
            {
                throw c.Error($"offset {t.Offset} is not a multiple of the alignment {alignment}");
            }

            if (t.Offset > (ulong)dataLength || (ulong)t.Bytes > (ulong)dataLength - t.Offset)
            {
                throw c.Error($"its {t.Bytes} bytes at data offset {t.Offset} run past the end of the {dataLength}-byte data section");
            }

            infos[i] = new GgufTensorInfo(t.Name, t.Type, t.Dims, t.Count, (long)t.Offset, dataOffset + (long)t.Offset, t.Bytes);
        }

        c.Tensor = null;
        var sorted = infos.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset).ToArray();
        for (int i = 1; i < sorted.Length; i++)
        {
            var prev = sorted[i - 1];
            if (sorted[i].Offset < prev.Offset + prev.ByteLength)
            {
                c.Tensor = sorted[i].Name;
                throw c.Error($"its data at offset {sorted[i].Offset} overlaps tensor '{GgufFormatException.Shorten(prev.Name)}' ([{prev.Offset}, {prev.Offset + prev.ByteLength}))");
            }
        }

        return new GgufHeader(version, metadata, alignment, dataOffset, infos);
    }

    /// <summary>Rounds <paramref name="value"/> up to a multiple of the power of two <paramref name="alignment"/>.</summary>
    public static long AlignUp(long value, int alignment) => (value + alignment - 1) & ~((long)alignment - 1);

    private static GgufValue ReadValue(ref GgufCursor c, uint typeId, int depth)
    {
        var type = (GgufValueType)typeId;
        return type switch
        {
            GgufValueType.UInt8 => GgufValue.From(c.ReadU8("a UInt8 value")),
            GgufValueType.Int8 => GgufValue.From(unchecked((sbyte)c.ReadU8("an Int8 value"))),
            GgufValueType.UInt16 => GgufValue.From(c.ReadU16("a UInt16 value")),
            GgufValueType.Int16 => GgufValue.From(unchecked((short)c.ReadU16("an Int16 value"))),
            GgufValueType.UInt32 => GgufValue.From(c.ReadU32("a UInt32 value")),
            GgufValueType.Int32 => GgufValue.From(unchecked((int)c.ReadU32("an Int32 value"))),
            GgufValueType.Float32 => GgufValue.From(BitConverter.UInt32BitsToSingle(c.ReadU32("a Float32 value"))),
            GgufValueType.Bool => GgufValue.From(ReadBool(ref c)),
            GgufValueType.String => GgufValue.From(c.ReadString("a string value", strict: false)),
            GgufValueType.UInt64 => GgufValue.From(c.ReadU64("a UInt64 value")),
            GgufValueType.Int64 => GgufValue.From(unchecked((long)c.ReadU64("an Int64 value"))),
            GgufValueType.Float64 => GgufValue.From(BitConverter.UInt64BitsToDouble(c.ReadU64("a Float64 value"))),
            GgufValueType.Array => GgufValue.From(ReadArray(ref c, depth + 1)),
            _ => throw c.Error($"unknown value type {typeId}"),
        };
    }

    private static bool ReadBool(ref GgufCursor c)
    {
        byte b = c.ReadU8("a Bool value");
        return b <= 1 ? b == 1 : throw c.Error($"Bool value byte {b} is neither 0 nor 1");
    }

    private static GgufArray ReadArray(ref GgufCursor c, int depth)
    {
        if (depth > MaxArrayDepth)
        {
            throw c.Error($"arrays are nested more than {MaxArrayDepth} deep");
        }

        uint elementTypeId = c.ReadU32("the array element type");
        var elementType = (GgufValueType)elementTypeId;
        int minSize = elementType switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => throw c.Error($"unknown array element type {elementTypeId}"),
        };
        ulong count = c.ReadU64("the array length");
        if (count > (ulong)(c.Remaining / minSize))
        {
            throw c.Error($"array length {count} is more than the {c.Remaining} bytes left in the file can hold");
        }

        int n = (int)count;
        Array items = elementType switch
        {
            GgufValueType.UInt8 => c.ReadBytes(n, "a UInt8 array").ToArray(),
            GgufValueType.Int8 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(c.ReadBytes(n, "an Int8 array")).ToArray(),
            GgufValueType.UInt16 => Cast<ushort>(c.ReadBytes(n * 2, "a UInt16 array")),
            GgufValueType.Int16 => Cast<short>(c.ReadBytes(n * 2, "an Int16 array")),
            GgufValueType.UInt32 => Cast<uint>(c.ReadBytes(n * 4, "a UInt32 array")),
            GgufValueType.Int32 => Cast<int>(c.ReadBytes(n * 4, "an Int32 array")),
            GgufValueType.Float32 => Cast<float>(c.ReadBytes(n * 4, "a Float32 array")),
            GgufValueType.UInt64 => Cast<ulong>(c.ReadBytes(n * 8, "a UInt64 array")),
            GgufValueType.Int64 => Cast<long>(c.ReadBytes(n * 8, "an Int64 array")),
            GgufValueType.Float64 => Cast<double>(c.ReadBytes(n * 8, "a Float64 array")),
            GgufValueType.Bool => ReadBools(ref c, n),
            GgufValueType.String => ReadStrings(ref c, n),
            _ => ReadArrays(ref c, n, depth),
        };
        return GgufArray.Wrap(elementType, items);
    }

    private static T[] Cast<T>(ReadOnlySpan<byte> bytes)
        where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes).ToArray();

    private static bool[] ReadBools(ref GgufCursor c, int n)
    {
        var r = new bool[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = ReadBool(ref c);
        }

        return r;
    }

    private static string[] ReadStrings(ref GgufCursor c, int n)
    {
        var r = new string[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = c.ReadString("an array string", strict: false);
        }

        return r;
    }

    private static GgufArray[] ReadArrays(ref GgufCursor c, int n, int depth)
    {
        var r = new GgufArray[n];
        for (int i = 0; i < n; i++)
        {
            r[i] = ReadArray(ref c, depth + 1);
        }

        return r;
    }
}
