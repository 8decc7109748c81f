namespace Candle.Runtime.Devices;

/// <summary>Memory on a <see cref="IDevice"/>: a size and whatever handle the device keeps. Disposing frees it.</summary>
public abstract class DeviceBuffer : IDisposable
{
    /// <summary>Creates the buffer's description.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is negative.</exception>
    protected DeviceBuffer(IDevice device, long bytes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Device = device;
        Bytes = bytes;
    }

    /// <summary>The device the memory is on.</summary>
    public IDevice Device { get; }

    /// <summary>The size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>Whether the buffer has been freed.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Frees the memory.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Throws when a range of <paramref name="count"/> bytes at <paramref name="offset"/> does not lie in the buffer.</summary>
    /// <exception cref="ArgumentException">The range does not fit, or the buffer was freed.</exception>
    public void CheckRange(long offset, long count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (offset < 0 || count < 0 || offset > Bytes - count)
        {
            throw new ArgumentException($"the range of {count} bytes at {offset} does not lie in a {Bytes}-byte buffer on {Device.Name}");
        }
    }

    /// <summary>Frees the device memory (<paramref name="disposing"/> is false from a finalizer).</summary>
    protected abstract void Dispose(bool disposing);
}
