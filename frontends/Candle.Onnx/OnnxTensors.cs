using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Candle.Onnx.Proto;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Google.Protobuf;

namespace Candle.Onnx;

/// <summary>
/// Reads TensorProtos into host tensors: inline typed fields, raw_data, or external data files resolved relative to
/// the model. Every size is checked against the data before anything is allocated.
/// </summary>
internal static class OnnxTensors
{
    /// <summary>Parses a serialized TensorProto file (the node tests' input_i.pb / output_i.pb).</summary>
    /// <exception cref="OnnxFormatException">The file is not a readable TensorProto.</exception>
    public static HostTensor ReadFile(string path)
    {
        var proto = OnnxProtoFiles.Parse(path, TensorProto.Parser);
        return ToHost(proto, path, $"tensor '{proto.Name}'", Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>The shape of a TensorProto, checked: non-negative dims whose product fits an int.</summary>
    public static int[] CheckedShape(TensorProto t, string file, string what)
    {
        if (t.Dims.Count > 64) throw new OnnxFormatException($"{file}: {what} has {t.Dims.Count} dimensions (at most 64 are read)");
        var shape = new int[t.Dims.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > int.MaxValue) throw new OnnxFormatException($"{file}: {what} has dimension {i} of size {d}");
            shape[i] = (int)d;
            count = d == 0 ? 0 : count;
            if (count != 0 && (count *= d) > int.MaxValue) throw new OnnxFormatException($"{file}: {what} of shape [{string.Join(", ", t.Dims)}] has more than {int.MaxValue} elements");
        }

        return shape;
    }

    /// <summary>Converts a TensorProto; <paramref name="baseDir"/> resolves external data (null forbids it).</summary>
    /// <exception cref="OnnxFormatException">The tensor is inconsistent, its element type is not one ONNX defines, or its data is missing or out of bounds.</exception>
    /// <exception cref="OnnxImportException">The element type is one ONNX defines that the IR has no dtype for (int16, float8, string ...).</exception>
    public static HostTensor ToHost(TensorProto t, string file, string what, string? baseDir)
    {
        if (OnnxDataTypes.IsCarried(t.DataType)) return ToCarrier(t, file, what, baseDir);
        var dtype = OnnxDataTypes.ToDType(t.DataType) ?? (OnnxDataTypes.IsDefined(t.DataType)
            ? throw new OnnxImportException($"{file}: {what} has element type {OnnxDataTypes.Name(t.DataType)}, which is not supported")
            : throw new OnnxFormatException($"{file}: {what} has element type {OnnxDataTypes.Name(t.DataType)}, which ONNX does not define"));
        int[] shape = CheckedShape(t, file, what);
        long count = shape.Aggregate(1L, (a, d) => a * d);
        long bytes = count * dtype.SizeInBytes();
        if (bytes > int.MaxValue) throw new OnnxFormatException($"{file}: {what} needs {bytes} bytes (at most {int.MaxValue} per tensor)");

        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            return new HostTensor(dtype, shape, ReadExternal(t, file, what, baseDir, bytes));
        }

        if (!t.RawData.IsEmpty || t.HasNoTypedData())
        {
            if (t.RawData.Length != bytes)
            {
                throw new OnnxFormatException($"{file}: {what} of shape [{string.Join(", ", shape)}] and type {OnnxDataTypes.Name(t.DataType)} needs {bytes} bytes of raw_data, found {t.RawData.Length}");
            }

            return new HostTensor(dtype, shape, t.RawData.ToByteArray());
        }

        var data = new byte[bytes];
        int n = (int)count;
        switch (dtype)
        {
            case DType.F32:
                Expect(t.FloatData.Count, n, "float_data");
                MemoryMarshal.AsBytes(t.FloatData.ToArray().AsSpan()).CopyTo(data);
                break;
            case DType.F64:
                Expect(t.DoubleData.Count, n, "double_data");
                MemoryMarshal.AsBytes(t.DoubleData.ToArray().AsSpan()).CopyTo(data);
                break;
            case DType.I64:
                Expect(t.Int64Data.Count, n, "int64_data");
                MemoryMarshal.AsBytes(t.Int64Data.ToArray().AsSpan()).CopyTo(data);
                break;
            case DType.I32:
                Expect(t.Int32Data.Count, n, "int32_data");
                MemoryMarshal.AsBytes(t.Int32Data.ToArray().AsSpan()).CopyTo(data);
                break;
            case DType.F16 or DType.BF16:
                Expect(t.Int32Data.Count, n, "int32_data");
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), unchecked((ushort)t.Int32Data[i]));
                break;
            default:
                Expect(t.Int32Data.Count, n, "int32_data");
                for (int i = 0; i < n; i++) data[i] = dtype == DType.Bool ? (byte)(t.Int32Data[i] != 0 ? 1 : 0) : unchecked((byte)t.Int32Data[i]);
                break;
        }

        return new HostTensor(dtype, shape, data);

        void Expect(int found, int expected, string field)
        {
            if (found != expected) throw new OnnxFormatException($"{file}: {what} of shape [{string.Join(", ", shape)}] needs {expected} values in {field}, found {found}");
        }
    }

    /// <summary>A tensor of a type the IR carries in a wider dtype, decoded into the carrier.</summary>
    private static HostTensor ToCarrier(TensorProto t, string file, string what, string? baseDir)
    {
        int[] shape = CheckedShape(t, file, what);
        long count = shape.Aggregate(1L, (a, d) => a * d);
        long bytes = CarriedTensors.StoredBytes(t.DataType, count);
        long carried = count * OnnxDataTypes.Carrier(t.DataType)!.Value.SizeInBytes();
        if (carried > int.MaxValue) throw new OnnxFormatException($"{file}: {what} needs {carried} bytes as {OnnxDataTypes.Carrier(t.DataType)!.Value.TorchName()} (at most {int.MaxValue} per tensor)");
        byte[] stored;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            stored = ReadExternal(t, file, what, baseDir, bytes);
        }
        else if (!t.RawData.IsEmpty || t.HasNoTypedData())
        {
            if (t.RawData.Length != bytes)
            {
                throw new OnnxFormatException($"{file}: {what} of shape [{string.Join(", ", shape)}] and type {OnnxDataTypes.Name(t.DataType)} needs {bytes} bytes of raw_data, found {t.RawData.Length}");
            }

            stored = t.RawData.ToByteArray();
        }
        else
        {
            stored = CarriedTensors.FromTypedField(t, t.DataType, bytes)
                ?? throw new OnnxFormatException($"{file}: {what} of shape [{string.Join(", ", shape)}] and type {OnnxDataTypes.Name(t.DataType)} has the wrong number of values in {(t.DataType is 12 or 13 ? "uint64_data" : "int32_data")}");
        }

        return CarriedTensors.Decode(t.DataType, shape, count, stored);
    }

    private static bool HasNoTypedData(this TensorProto t) =>
        t.FloatData.Count == 0 && t.DoubleData.Count == 0 && t.Int32Data.Count == 0 && t.Int64Data.Count == 0 && t.Uint64Data.Count == 0;

    private static byte[] ReadExternal(TensorProto t, string file, string what, string? baseDir, long bytes)
    {
        if (baseDir is null) throw new OnnxFormatException($"{file}: {what} refers to external data, which is not allowed here");
        string? location = null;
        long offset = 0, length = -1;
        foreach (var kv in t.ExternalData)
        {
            switch (kv.Key)
            {
                case "location": location = kv.Value; break;
                case "offset": offset = ParseLong(kv.Value, "offset"); break;
                case "length": length = ParseLong(kv.Value, "length"); break;
            }
        }

        if (string.IsNullOrEmpty(location)) throw new OnnxFormatException($"{file}: {what} has external data without a location");
        if (Path.IsPathRooted(location) || location.Split('/', '\\').Contains(".."))
        {
            throw new OnnxFormatException($"{file}: {what} has external data location '{location}' outside the model's directory");
        }

        string root = Path.GetFullPath(baseDir);
        string full = Path.GetFullPath(Path.Combine(root, location));
        if (!full.StartsWith(root, StringComparison.Ordinal)) throw new OnnxFormatException($"{file}: {what} has external data location '{location}' outside the model's directory");
        if (!File.Exists(full)) throw new OnnxFormatException($"{file}: {what} refers to external data file '{location}', which does not exist");
        if (length >= 0 && length != bytes) throw new OnnxFormatException($"{file}: {what} needs {bytes} bytes but its external data length is {length}");

        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (offset < 0 || offset > stream.Length || stream.Length - offset < bytes)
        {
            throw new OnnxFormatException($"{file}: {what} reads {bytes} bytes at offset {offset} of '{location}', which has {stream.Length} bytes");
        }

        var data = new byte[bytes];
        stream.Position = offset;
        stream.ReadExactly(data);
        return data;

        long ParseLong(string s, string key) =>
            long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw new OnnxFormatException($"{file}: {what} has external data {key} '{s}', not a non-negative integer");
    }
}
