namespace Candle.Runtime.Devices;

/// <summary>
/// Where tensors live and plans run: the host (<see cref="HostDevice"/>) or an accelerator. A device allocates
/// buffers and copies between them and host memory; every such copy is an explicit call, so a tensor that stays on a
/// device between plan calls (a KV cache, a plan's outputs fed to the next call) is never copied behind the caller's
/// back. Devices that hold native contexts or streams release them on <see cref="IDisposable.Dispose"/>.
/// </summary>
public interface IDevice : IDisposable
{
    /// <summary>The device's name: "cpu", "cuda:0", "opencl:0", "metal:0".</summary>
    string Name { get; }

    /// <summary>True when the device's buffers are host memory (kernels and the caller share them without copies).</summary>
    bool IsHost { get; }

    /// <summary>Allocates a buffer of <paramref name="bytes"/> bytes (contents undefined).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is negative.</exception>
    /// <exception cref="OutOfMemoryException">The device has no room for it.</exception>
    DeviceBuffer Allocate(long bytes);

    /// <summary>Copies host bytes into <paramref name="destination"/> at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentException">The buffer belongs to another device, or the range does not fit.</exception>
    void CopyFromHost(ReadOnlySpan<byte> source, DeviceBuffer destination, long offset);

    /// <summary>Copies <paramref name="destination"/>'s length of bytes from <paramref name="source"/> at <paramref name="offset"/> to host memory.</summary>
    /// <exception cref="ArgumentException">The buffer belongs to another device, or the range does not fit.</exception>
    void CopyToHost(DeviceBuffer source, long offset, Span<byte> destination);

    /// <summary>
    /// Copies <paramref name="bytes"/> bytes from <paramref name="source"/> at <paramref name="sourceOffset"/> to
    /// <paramref name="destination"/> at <paramref name="destinationOffset"/>, both buffers of this device, without a
    /// round trip through the host: a step's new keys and values into a resident KV cache, say. The copy is ordered
    /// with the device's other queued work (it may return before it has run).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// A buffer belongs to another device, a range does not lie in its buffer, or the two ranges share memory.
    /// </exception>
    void Copy(DeviceBuffer source, long sourceOffset, DeviceBuffer destination, long destinationOffset, long bytes);

    /// <summary>
    /// Bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="bytes"/>) of a buffer of this
    /// device as a buffer of its own, without a copy (the filled rows of a preallocated KV cache handed to a step).
    /// Disposing the slice frees nothing; it is valid while <paramref name="buffer"/> is.
    /// </summary>
    /// <exception cref="ArgumentException">The buffer belongs to another device, or the range does not lie in it.</exception>
    DeviceBuffer Slice(DeviceBuffer buffer, long offset, long bytes);

    /// <summary>Waits until every operation queued on the device has finished.</summary>
    void Synchronize();
}
