using System.Buffers.Binary;
using Candle.Onnx.Proto;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>
/// Reads tensors of the ONNX element types the IR carries in a wider dtype (<see cref="OnnxDataTypes.Carrier"/>):
/// int16/uint16 (2 bytes), uint32 (4), uint64 (8), the float8 types (1 byte, decoded per their formats), and the packed
/// 4-bit (two per byte, low nibble first) and 2-bit (four per byte, lowest bits first) types. Stored bytes come from
/// raw_data, external data or the typed field the spec names (int32_data; uint64_data for uint32 and uint64).
/// </summary>
internal static class CarriedTensors
{
    /// <summary>The bytes a tensor of <paramref name="count"/> elements of <paramref name="code"/> occupies.</summary>
    public static long StoredBytes(int code, long count) => code switch
    {
        4 or 5 => 2 * count,
        12 => 4 * count,
        13 => 8 * count,
        21 or 22 or 23 => (count + 1) / 2,
        25 or 26 => (count + 3) / 4,
        _ => count,
    };

    /// <summary>Decodes the stored bytes of a carried tensor into its carrier dtype.</summary>
    public static HostTensor Decode(int code, int[] shape, long count, byte[] stored)
    {
        var dtype = OnnxDataTypes.Carrier(code)!.Value;
        int n = checked((int)count);
        switch (dtype)
        {
            case DType.I32:
            {
                var v = new int[n];
                for (int i = 0; i < n; i++) v[i] = code == 5 ? BinaryPrimitives.ReadInt16LittleEndian(stored.AsSpan(2 * i)) : BinaryPrimitives.ReadUInt16LittleEndian(stored.AsSpan(2 * i));
                return HostTensor.FromArray(v, shape);
            }

            case DType.I64:
            {
                var v = new long[n];
                for (int i = 0; i < n; i++) v[i] = code == 12 ? BinaryPrimitives.ReadUInt32LittleEndian(stored.AsSpan(4 * i)) : BinaryPrimitives.ReadInt64LittleEndian(stored.AsSpan(8 * i));
                return HostTensor.FromArray(v, shape);
            }

            case DType.F32:
            {
                var v = new float[n];
                for (int i = 0; i < n; i++) v[i] = code == 23 ? Float8.Decode(code, (byte)((stored[i / 2] >> (4 * (i % 2))) & 0xF)) : Float8.Decode(code, stored[i]);
                return HostTensor.FromArray(v, shape);
            }

            default:
            {
                // 4-bit and 2-bit integers, sign-extended for int4 and int2.
                int bits = code is 21 or 22 ? 4 : 2;
                int perByte = 8 / bits, mask = (1 << bits) - 1;
                bool signed = code is 22 or 26;
                var data = new byte[n];
                for (int i = 0; i < n; i++)
                {
                    int raw = (stored[i / perByte] >> (bits * (i % perByte))) & mask;
                    data[i] = unchecked((byte)(signed && raw >= 1 << (bits - 1) ? raw - (1 << bits) : raw));
                }

                return new HostTensor(dtype, shape, data);
            }
        }
    }

    /// <summary>The stored bytes of <paramref name="t"/> held in its typed field.</summary>
    public static byte[]? FromTypedField(TensorProto t, int code, long bytes)
    {
        var data = new byte[bytes];
        if (code is 12 or 13)
        {
            if (t.Uint64Data.Count * (code == 12 ? 4L : 8L) != bytes) return null;
            for (int i = 0; i < t.Uint64Data.Count; i++)
            {
                if (code == 12) BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4 * i), unchecked((uint)t.Uint64Data[i]));
                else BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8 * i), t.Uint64Data[i]);
            }

            return data;
        }

        int width = code is 4 or 5 ? 2 : 1;
        if (t.Int32Data.Count * (long)width != bytes) return null;
        for (int i = 0; i < t.Int32Data.Count; i++)
        {
            if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), unchecked((ushort)t.Int32Data[i]));
            else data[i] = unchecked((byte)t.Int32Data[i]);
        }

        return data;
    }

    /// <summary>
    /// The stored bytes (ONNX's raw_data layout) of <paramref name="value"/>, a carrier tensor whose values are those
    /// of type <paramref name="code"/>: the inverse of <see cref="Decode"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A value is not one of the type's (the message names it).</exception>
    public static byte[] Encode(int code, HostTensor value)
    {
        if (value.DType != OnnxDataTypes.Carrier(code)) throw new InvalidOperationException($"a {OnnxDataTypes.Name(code)} value is carried as {OnnxDataTypes.Carrier(code)}, got {value.DType}");
        int n = checked((int)value.ElementCount);
        var stored = new byte[StoredBytes(code, n)];
        switch (code)
        {
            case 4 or 5:
            {
                var v = value.AsSpan<int>();
                for (int i = 0; i < n; i++)
                {
                    if (v[i] < (code == 5 ? short.MinValue : 0) || v[i] > (code == 5 ? short.MaxValue : ushort.MaxValue)) throw Outside(code, v[i]);
                    BinaryPrimitives.WriteUInt16LittleEndian(stored.AsSpan(2 * i), unchecked((ushort)v[i]));
                }

                break;
            }

            case 12 or 13:
            {
                var v = value.AsSpan<long>();
                for (int i = 0; i < n; i++)
                {
                    if (code == 12 && (v[i] < 0 || v[i] > uint.MaxValue)) throw Outside(code, v[i]);
                    if (code == 12) BinaryPrimitives.WriteUInt32LittleEndian(stored.AsSpan(4 * i), (uint)v[i]);
                    else BinaryPrimitives.WriteInt64LittleEndian(stored.AsSpan(8 * i), v[i]);
                }

                break;
            }

            case 17 or 18 or 19 or 20 or 23 or 24:
            {
                var table = FloatCodes(code);
                var v = value.AsSpan<float>();
                for (int i = 0; i < n; i++)
                {
                    float x = float.IsNaN(v[i]) ? float.NaN : v[i] == 0 && !table.ContainsKey(BitConverter.SingleToInt32Bits(v[i])) ? 0f : v[i];
                    if (!table.TryGetValue(BitConverter.SingleToInt32Bits(x), out byte b)) throw Outside(code, v[i]);
                    if (code == 23) stored[i / 2] |= (byte)(b << (4 * (i % 2)));
                    else stored[i] = b;
                }

                break;
            }

            default:
            {
                int bits = code is 21 or 22 ? 4 : 2;
                int perByte = 8 / bits, mask = (1 << bits) - 1;
                bool signed = code is 22 or 26;
                var data = value.Data.Span;
                for (int i = 0; i < n; i++)
                {
                    int x = signed ? (sbyte)data[i] : data[i];
                    if (x < (signed ? -(1 << (bits - 1)) : 0) || x > (signed ? (1 << (bits - 1)) - 1 : mask)) throw Outside(code, x);
                    stored[i / perByte] |= (byte)((x & mask) << (bits * (i % perByte)));
                }

                break;
            }
        }

        return stored;
    }

    /// <summary>Each value of a float8 or float4 format (by its float bits; NaN as float.NaN's) and its code.</summary>
    private static Dictionary<int, byte> FloatCodes(int code)
    {
        var table = new Dictionary<int, byte>();
        for (int b = (code == 23 ? 15 : 255); b >= 0; b--)
        {
            float v = Float8.Decode(code, (byte)b);
            table[BitConverter.SingleToInt32Bits(float.IsNaN(v) ? float.NaN : v)] = (byte)b;
        }

        return table;
    }

    private static InvalidOperationException Outside(int code, double v) =>
        new($"{v.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not a {OnnxDataTypes.Name(code)} value");
}
