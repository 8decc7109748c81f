using Candle.Runtime.Devices;

namespace Candle.Runtime.Execution;

/// <summary>
/// An executable that also runs on tensors resident on its device, so that state kept between calls (a KV cache,
/// parameters and optimizer state during training) never crosses to the host.
/// </summary>
public interface IDeviceExecutable : IExecutable
{
    /// <summary>The device the executable runs on.</summary>
    IDevice Device { get; }

    /// <summary>
    /// Runs on tensors on <see cref="Device"/> and returns the outputs there: an output written into fresh memory is
    /// owned by the returned tensor, an output that is an input's buffer comes back as a view of it.
    /// </summary>
    /// <exception cref="ArgumentException">An input has the wrong count, dtype, shape or device.</exception>
    DeviceTensor[] RunOnDevice(IReadOnlyList<DeviceTensor> inputs);

    /// <summary>
    /// Throws when a run of <see cref="RunOnDevice"/> since the last check read an index out of range (a gather,
    /// embedding or scatter index). A device that runs asynchronously reports such an index with a flag instead of
    /// touching memory out of bounds, and <see cref="RunOnDevice"/> does not wait for it: call this after reading a
    /// run's result (it waits for the device's queued work). Where runs are synchronous it returns at once, since
    /// <see cref="RunOnDevice"/> has already thrown.
    /// </summary>
    /// <exception cref="ArgumentException">An index of a run since the last check was out of range.</exception>
    void CheckIndexes();
}
