using System.Text;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>Builds GGUF bytes field by field, including malformed ones.</summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _ms = new();
    private readonly BinaryWriter _w;

    public RawGguf() => _w = new BinaryWriter(_ms, Encoding.UTF8, leaveOpen: true);

    public long Length => _ms.Length;

    public RawGguf Bytes(ReadOnlySpan<byte> b)
    {
        _w.Write(b);
        return this;
    }

    public RawGguf U32(uint v)
    {
        _w.Write(v);
        return this;
    }

    public RawGguf U64(ulong v)
    {
        _w.Write(v);
        return this;
    }

    public RawGguf Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _w.Write((ulong)b.Length);
        _w.Write(b);
        return this;
    }

    public RawGguf Header(uint version, ulong tensors, ulong kvs) => Bytes("GGUF"u8).U32(version).U64(tensors).U64(kvs);

    public RawGguf KvU32(string key, uint value) => Str(key).U32(4).U32(value);

    public RawGguf KvString(string key, string value) => Str(key).U32(8).Str(value);

    public RawGguf Tensor(string name, ulong[] dims, uint type, ulong offset)
    {
        Str(name).U32((uint)dims.Length);
        foreach (ulong d in dims)
        {
            U64(d);
        }

        return U32(type).U64(offset);
    }

    public RawGguf PadTo(int alignment)
    {
        while (_ms.Length % alignment != 0)
        {
            _w.Write((byte)0);
        }

        return this;
    }

    public RawGguf Zeros(int count)
    {
        _w.Write(new byte[count]);
        return this;
    }

    public byte[] ToArray()
    {
        _w.Flush();
        return _ms.ToArray();
    }
}
