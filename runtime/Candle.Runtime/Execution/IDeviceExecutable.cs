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
}
