using System.Buffers;

namespace Candle.Runtime.Memory;

/// <summary>
/// A <see cref="Memory{T}"/> source over a range of a <see cref="MappedFile"/>. It holds a reference to the
/// mapping, so the mapping lives as long as any <see cref="Memory{T}"/> made from it (and any tensor holding one).
/// The bytes are mapped read-only: reading is the only valid use.
/// </summary>
internal sealed unsafe class MappedMemoryManager : MemoryManager<byte>
{
    private readonly MappedFile _mapping;
    private readonly long _offset;
    private readonly int _length;

    /// <summary>Views <paramref name="length"/> bytes of <paramref name="mapping"/> from <paramref name="offset"/>; the caller checks the range.</summary>
    public MappedMemoryManager(MappedFile mapping, long offset, int length)
    {
        _mapping = mapping;
        _offset = offset;
        _length = length;
    }

    /// <inheritdoc/>
    public override Span<byte> GetSpan() => new(_mapping.At(_offset), _length);

    /// <summary>
    /// Gives the view's resident pages back to the operating system (see <see cref="ResidentPages"/>): the bytes stay
    /// readable and unchanged, faulted in again from the file if read.
    /// </summary>
    public void DropResidentPages() => ResidentPages.Drop(_mapping.At(_offset), _length);

    /// <summary>
    /// Gives back the resident pages under <paramref name="memory"/> when it views a mapped file (see
    /// <see cref="ResidentPages"/>); memory of any other kind is left alone.
    /// </summary>
    /// <returns>Whether <paramref name="memory"/> views a mapped file.</returns>
    public static bool DropResidentPages(ReadOnlyMemory<byte> memory)
    {
        if (!System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, MappedMemoryManager>(memory, out var manager, out int start, out int length))
        {
            return false;
        }

        ResidentPages.Drop(manager._mapping.At(manager._offset + start), length);
        return true;
    }

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
        {
            throw new ArgumentOutOfRangeException(nameof(elementIndex));
        }

        // Mapped memory never moves; passing this manager as the pinnable keeps the mapping alive while pinned.
        return new MemoryHandle(_mapping.At(_offset) + elementIndex, default, this);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        // The mapping belongs to the file that handed out this view; it is released when no view refers to it.
    }
}
