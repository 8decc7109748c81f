using Candle.Runtime.Tensors;

namespace Candle.Runtime.Devices;

/// <summary>
/// The host as a device: buffers are pinned managed arrays (or views of existing host memory), copies are memory
/// copies, and plans compiled for the CPU read and write them in place.
/// </summary>
public sealed class HostDevice : IDevice
{
    private HostDevice()
    {
    }

    /// <summary>The host.</summary>
    public static HostDevice Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public bool IsHost => true;

    /// <inheritdoc/>
    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "a host buffer holds at most Array.MaxLength bytes");
        return new HostBuffer(this, GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true));
    }

    /// <summary>A buffer over existing host memory (no copy); the memory must outlive the buffer.</summary>
    public DeviceBuffer Wrap(Memory<byte> memory) => new HostBuffer(this, memory);

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, DeviceBuffer destination, long offset)
    {
        var h = Own(destination);
        h.CheckRange(offset, source.Length);
        source.CopyTo(h.Memory.Span[(int)offset..]);
    }

    /// <inheritdoc/>
    public void CopyToHost(DeviceBuffer source, long offset, Span<byte> destination)
    {
        var h = Own(source);
        h.CheckRange(offset, destination.Length);
        h.Memory.Span.Slice((int)offset, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    public void Copy(DeviceBuffer source, long sourceOffset, DeviceBuffer destination, long destinationOffset, long bytes)
    {
        var s = Own(source);
        var d = Own(destination);
        s.CheckRange(sourceOffset, bytes);
        d.CheckRange(destinationOffset, bytes);
        var from = s.Memory.Span.Slice((int)sourceOffset, (int)bytes);
        var to = d.Memory.Span.Slice((int)destinationOffset, (int)bytes);
        if (from.Overlaps(to)) throw new ArgumentException($"the {bytes}-byte ranges of a copy on {Name} share memory");
        from.CopyTo(to);
    }

    /// <inheritdoc/>
    public DeviceBuffer Slice(DeviceBuffer buffer, long offset, long bytes)
    {
        var h = Own(buffer);
        h.CheckRange(offset, bytes);
        return new HostBuffer(this, h.Memory.Slice((int)offset, (int)bytes));
    }

    /// <inheritdoc/>
    public void Synchronize()
    {
    }

    /// <summary>The host has nothing to release.</summary>
    public void Dispose()
    {
    }

    /// <summary>The host memory of a host buffer.</summary>
    /// <exception cref="ArgumentException">The buffer is on another device.</exception>
    public static Memory<byte> MemoryOf(DeviceBuffer buffer) => Own(buffer).Memory;

    private static HostBuffer Own(DeviceBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return buffer as HostBuffer ?? throw new ArgumentException($"the buffer is on {buffer.Device.Name}, not on the host");
    }

    private sealed class HostBuffer(HostDevice device, Memory<byte> memory) : DeviceBuffer(device, memory.Length)
    {
        public Memory<byte> Memory { get; } = memory;

        protected override void Dispose(bool disposing)
        {
        }
    }
}
