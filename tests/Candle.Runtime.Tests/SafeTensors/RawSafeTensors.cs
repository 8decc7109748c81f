using System.Buffers.Binary;
using System.Text;

namespace Candle.Runtime.Tests.SafeTensors;

/// <summary>Builds safetensors bytes by hand, including malformed ones.</summary>
internal static class RawSafeTensors
{
    /// <summary>The 8-byte length, the header text as given (no padding), then <paramref name="dataLength"/> bytes 0, 1, 2...</summary>
    public static byte[] Build(string headerJson, long dataLength, ulong? headerLengthOverride = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (long i = 0; i < dataLength; i++)
        {
            bytes[8 + header.Length + i] = unchecked((byte)i);
        }

        return bytes;
    }

    /// <summary>The header length the prefix of a file gives.</summary>
    public static ulong HeaderLength(ReadOnlySpan<byte> file) => BinaryPrimitives.ReadUInt64LittleEndian(file);
}
