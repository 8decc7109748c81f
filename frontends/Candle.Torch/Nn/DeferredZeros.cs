using System.Buffers;

namespace Candle.Torch.Nn;

/// <summary>
/// Zeroed bytes allocated only when first read or pinned: the memory of a parameter built under
/// <see cref="Init.SkipInit"/>, which a checkpoint usually replaces before anything reads it.
/// </summary>
internal sealed class DeferredZeros(int length) : MemoryManager<byte>
{
    private byte[]? _bytes;

    /// <summary>Whether the bytes have been allocated (something read or pinned them).</summary>
    public bool IsAllocated => Volatile.Read(ref _bytes) is not null;

    /// <inheritdoc/>
    public override Memory<byte> Memory => CreateMemory(length);

    private byte[] Bytes => LazyInitializer.EnsureInitialized(ref _bytes, () => new byte[length]);

    /// <inheritdoc/>
    public override Span<byte> GetSpan() => Bytes;

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0) => Bytes.AsMemory(elementIndex).Pin();

    /// <inheritdoc/>
    public override void Unpin()
    {
        // The handle returned by Pin releases its own pin.
    }

    /// <inheritdoc/>
    protected override bool TryGetArray(out ArraySegment<byte> segment)
    {
        segment = new ArraySegment<byte>(Bytes);
        return true;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
    }
}
