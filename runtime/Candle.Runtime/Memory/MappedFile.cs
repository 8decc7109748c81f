using System.IO.MemoryMappedFiles;

namespace Candle.Runtime.Memory;

/// <summary>
/// A whole file mapped read-only into memory. The mapping stays valid while this object is reachable: views
/// handed out as <see cref="MappedMemoryManager"/> hold a reference to it, and when the last reference goes the
/// runtime's safe handles unmap the view and close the file. <see cref="Dispose"/> releases it at once and must
/// only be called when no view is in use.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;

    private MappedFile(MemoryMappedFile file, MemoryMappedViewAccessor view, long length)
    {
        _file = file;
        _view = view;
        Length = length;
        // The safe handle is not add-ref'ed: keeping this object reachable keeps the handle from being finalized,
        // and once nothing refers to this object the handle's own finalizer unmaps the view.
        _pointer = (byte*)view.SafeMemoryMappedViewHandle.DangerousGetHandle() + view.PointerOffset;
        ResidentPages.RegisterMapping(_pointer, length);
    }

    /// <summary>
    /// Forgets the mapping in <see cref="ResidentPages"/> when this object is collected without <see cref="Dispose"/>: the
    /// view's handle is a critical finalizer, so it unmaps the view only after this runs.
    /// </summary>
    ~MappedFile() => ResidentPages.UnregisterMapping(_pointer);

    /// <summary>The mapped length in bytes (the file's length when it was opened).</summary>
    public long Length { get; }

    /// <summary>Maps an open file, taking ownership of the stream.</summary>
    /// <param name="stream">A readable file stream of at least one byte; it is closed with the mapping.</param>
    /// <param name="length">The file length to map.</param>
    public static MappedFile Map(FileStream stream, long length)
    {
        MemoryMappedFile? file = null;
        try
        {
            file = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            var view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new MappedFile(file, view, length);
        }
        catch
        {
            if (file is null)
            {
                stream.Dispose();
            }
            else
            {
                file.Dispose();
            }

            throw;
        }
    }

    /// <summary>The first <paramref name="length"/> bytes as a span (valid while this object is alive).</summary>
    public ReadOnlySpan<byte> Prefix(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)length, Length);
        return new ReadOnlySpan<byte>(_pointer, length);
    }

    /// <summary>The address of byte <paramref name="offset"/> of the file.</summary>
    public byte* At(long offset)
    {
        if ((ulong)offset > (ulong)Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"outside the {Length}-byte mapping");
        }

        return _pointer + offset;
    }

    /// <summary>A view of <paramref name="length"/> bytes from <paramref name="offset"/> that keeps the mapping alive.</summary>
    public Memory<byte> Slice(long offset, int length)
    {
        if (length < 0 || (ulong)offset > (ulong)Length || (ulong)length > (ulong)(Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"[{offset}, {offset}+{length}) is outside the {Length}-byte mapping");
        }

        return new MappedMemoryManager(this, offset, length).Memory;
    }

    /// <summary>Unmaps the view and closes the file.</summary>
    public void Dispose()
    {
        ResidentPages.UnregisterMapping(_pointer);
        GC.SuppressFinalize(this);
        _view.Dispose();
        _file.Dispose();
    }
}
