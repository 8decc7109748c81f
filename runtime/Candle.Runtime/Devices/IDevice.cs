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

    /// <summary>Waits until every operation queued on the device has finished.</summary>
    void Synchronize();
}
