using System.Buffers;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// A <see cref="Memory{T}"/> source over a range of a <see cref="GgufMappedFile"/> that keeps the mapping alive as
/// long as any memory made from it is reachable. The bytes are mapped read-only.
/// </summary>
internal sealed unsafe class GgufMappedMemory : MemoryManager<byte>
{
    private readonly GgufMappedFile _mapping;
    private readonly long _offset;
    private readonly int _length;

    /// <summary>Views <paramref name="length"/> bytes of <paramref name="mapping"/> from <paramref name="offset"/>; the caller checks the range.</summary>
    public GgufMappedMemory(GgufMappedFile mapping, long offset, int length)
    {
        _mapping = mapping;
        _offset = offset;
        _length = length;
    }

    /// <inheritdoc/>
    public override Span<byte> GetSpan() => new(_mapping.At(_offset), _length);

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
        {
            throw new ArgumentOutOfRangeException(nameof(elementIndex));
        }

        return new MemoryHandle(_mapping.At(_offset) + elementIndex, default, this);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
    }
}
