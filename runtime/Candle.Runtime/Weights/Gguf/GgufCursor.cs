using System.Buffers.Binary;
using System.Text;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// Reads the GGUF header fields in order, checking every read against the bytes that remain so that no length or
/// count taken from the file is trusted before it is bounded.
/// </summary>
internal ref struct GgufCursor
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _bytes;
    private readonly string _path;

    public GgufCursor(string path, ReadOnlySpan<byte> bytes)
    {
        _path = path;
        _bytes = bytes;
        Position = 0;
    }

    /// <summary>The offset of the next byte to read.</summary>
    public int Position { get; private set; }

    /// <summary>The bytes left to read.</summary>
    public readonly long Remaining => _bytes.Length - Position;

    /// <summary>Context for error messages: a tensor or key name, set by the caller.</summary>
    public string? Tensor { get; set; }

    /// <inheritdoc cref="Tensor"/>
    public string? Key { get; set; }

    public GgufFormatException Error(string problem) => new(_path, Tensor, Key, problem);

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > Remaining)
        {
            throw Error($"the file ends at byte {_bytes.Length} inside {what} (at {Position}, {count} bytes needed)");
        }

        var s = _bytes.Slice(Position, count);
        Position += count;
        return s;
    }

    public byte ReadU8(string what) => Take(1, what)[0];

    public ushort ReadU16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));

    public uint ReadU32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));

    public ulong ReadU64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    public ReadOnlySpan<byte> ReadBytes(int count, string what) => Take(count, what);

    /// <summary>A length-prefixed UTF-8 string. Names (keys, tensor names) must be valid UTF-8; values get U+FFFD for bad bytes.</summary>
    public string ReadString(string what, bool strict)
    {
        ulong length = ReadU64(what + " length");
        if (length > (ulong)Remaining)
        {
            throw Error($"{what} length {length} exceeds the {Remaining} bytes left in the file");
        }

        var bytes = Take((int)length, what);
        if (!strict)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new GgufFormatException(_path, Tensor, Key, $"{what} is not valid UTF-8", e);
        }
    }
}
