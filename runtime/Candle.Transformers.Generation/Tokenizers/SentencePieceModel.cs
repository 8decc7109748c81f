using System.Buffers.Binary;
using System.Text;

namespace Candle.Transformers.Tokenizers;

/// <summary>One piece of a SentencePiece vocabulary; <see cref="Type"/> uses SentencePiece's (and GGUF's) token type ids.</summary>
/// <param name="Piece">The piece text ("▁the", "&lt;0x0A&gt;", "&lt;s&gt;").</param>
/// <param name="Score">The piece's score (log probability, or merge rank for BPE models).</param>
/// <param name="Type">1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.</param>
internal readonly record struct SentencePiece(string Piece, float Score, int Type);

/// <summary>
/// Reads and writes the parts of a SentencePiece <c>ModelProto</c> (protobuf) that llama.cpp's GGUF tokenizer keys carry:
/// the pieces with scores and types, and the trainer/normalizer settings of a llama-style byte-fallback BPE model.
/// </summary>
internal static class SentencePieceModel
{
    /// <summary>The pieces of a <c>tokenizer.model</c> file.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a SentencePiece model.</exception>
    public static List<SentencePiece> ReadPieces(ReadOnlySpan<byte> proto, string origin)
    {
        var pieces = new List<SentencePiece>();
        int pos = 0;
        while (pos < proto.Length)
        {
            var (field, wire) = Tag(proto, ref pos, origin);
            if (field == 1 && wire == 2)
            {
                var body = LengthDelimited(proto, ref pos, origin);
                pieces.Add(ReadPiece(body, origin));
            }
            else
            {
                Skip(proto, ref pos, wire, origin);
            }
        }

        return pieces;
    }

    /// <summary>
    /// A <c>ModelProto</c> for Microsoft.ML.Tokenizers' SentencePiece BPE tokenizer: the pieces, a BPE trainer spec with
    /// byte fallback and the special ids, and the normalizer llama uses (a "▁" dummy prefix, spaces escaped as "▁").
    /// </summary>
    public static byte[] WriteBpeModel(IReadOnlyList<SentencePiece> pieces, int unkId, int bosId, int eosId, int padId, bool addDummyPrefix)
    {
        using var ms = new MemoryStream();
        Span<byte> f = stackalloc byte[4];
        foreach (var p in pieces)
        {
            using var piece = new MemoryStream();
            WriteBytes(piece, 1, Encoding.UTF8.GetBytes(p.Piece));
            WriteTag(piece, 2, 5);
            BinaryPrimitives.WriteSingleLittleEndian(f, p.Score);
            piece.Write(f);
            WriteVarintField(piece, 3, (ulong)p.Type);
            WriteBytes(ms, 1, piece.ToArray());
        }

        using (var trainer = new MemoryStream())
        {
            WriteVarintField(trainer, 3, 2);              // model_type: BPE
            WriteVarintField(trainer, 4, (ulong)pieces.Count);
            WriteVarintField(trainer, 35, 1);             // byte_fallback
            WriteVarintField(trainer, 40, unchecked((ulong)(long)unkId));
            WriteVarintField(trainer, 41, unchecked((ulong)(long)bosId));
            WriteVarintField(trainer, 42, unchecked((ulong)(long)eosId));
            WriteVarintField(trainer, 43, unchecked((ulong)(long)padId));
            WriteBytes(ms, 2, trainer.ToArray());
        }

        using (var normalizer = new MemoryStream())
        {
            WriteBytes(normalizer, 1, "identity"u8.ToArray());
            WriteVarintField(normalizer, 3, addDummyPrefix ? 1UL : 0UL);
            WriteVarintField(normalizer, 4, 0);           // remove_extra_whitespaces: off
            WriteVarintField(normalizer, 5, 1);           // escape_whitespaces
            WriteBytes(ms, 3, normalizer.ToArray());
        }

        return ms.ToArray();
    }

    private static SentencePiece ReadPiece(ReadOnlySpan<byte> body, string origin)
    {
        string piece = "";
        float score = 0;
        int type = 1;
        int pos = 0;
        while (pos < body.Length)
        {
            var (field, wire) = Tag(body, ref pos, origin);
            if (field == 1 && wire == 2) piece = Encoding.UTF8.GetString(LengthDelimited(body, ref pos, origin));
            else if (field == 2 && wire == 5)
            {
                if (pos + 4 > body.Length) throw Bad(origin);
                score = BinaryPrimitives.ReadSingleLittleEndian(body.Slice(pos, 4));
                pos += 4;
            }
            else if (field == 3 && wire == 0) type = (int)Varint(body, ref pos, origin);
            else Skip(body, ref pos, wire, origin);
        }

        return new SentencePiece(piece, score, type);
    }

    private static (int Field, int Wire) Tag(ReadOnlySpan<byte> s, ref int pos, string origin)
    {
        ulong tag = Varint(s, ref pos, origin);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    private static ulong Varint(ReadOnlySpan<byte> s, ref int pos, string origin)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= s.Length) throw Bad(origin);
            byte b = s[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }

        throw Bad(origin);
    }

    private static ReadOnlySpan<byte> LengthDelimited(ReadOnlySpan<byte> s, ref int pos, string origin)
    {
        ulong len = Varint(s, ref pos, origin);
        if (len > (ulong)(s.Length - pos)) throw Bad(origin);
        var body = s.Slice(pos, (int)len);
        pos += (int)len;
        return body;
    }

    private static void Skip(ReadOnlySpan<byte> s, ref int pos, int wire, string origin)
    {
        switch (wire)
        {
            case 0: Varint(s, ref pos, origin); break;
            case 1: pos += 8; break;
            case 2: LengthDelimited(s, ref pos, origin); break;
            case 5: pos += 4; break;
            default: throw Bad(origin);
        }

        if (pos > s.Length) throw Bad(origin);
    }

    private static InvalidDataException Bad(string origin) => new($"{origin}: not a SentencePiece model (malformed protobuf)");

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    private static void WriteVarintField(Stream s, int field, ulong value)
    {
        WriteTag(s, field, 0);
        WriteVarint(s, value);
    }

    private static void WriteBytes(Stream s, int field, byte[] bytes)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        s.WriteByte((byte)value);
    }
}
