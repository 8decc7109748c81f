using System.Collections.Concurrent;

namespace Candle.Torch;

/// <summary>
/// The executor each <see cref="Device"/> uses for eager ops. <see cref="Device.Cpu"/> and
/// <see cref="Device.Reference"/> start with the reference interpreter; a backend registers itself to take over a device.
/// </summary>
public static class EagerExecutors
{
    private static readonly ConcurrentDictionary<Device, IEagerExecutor> Map = new()
    {
        [Device.Cpu] = ReferenceEagerExecutor.Instance,
        [Device.Reference] = ReferenceEagerExecutor.Instance,
    };

    /// <summary>Makes <paramref name="executor"/> run the eager ops of <paramref name="device"/>.</summary>
    public static void Register(Device device, IEagerExecutor executor)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(executor);
        Map[device] = executor;
    }

    /// <summary>The executor of <paramref name="device"/>.</summary>
    /// <exception cref="InvalidOperationException">No executor is registered for the device.</exception>
    public static IEagerExecutor For(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Map.TryGetValue(device, out var e)
            ? e
            : throw new InvalidOperationException($"no eager executor is registered for device '{device}' (register one with EagerExecutors.Register)");
    }
}
