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
}
