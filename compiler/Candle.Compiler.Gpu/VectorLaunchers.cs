using System.Reflection;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The launchers of one vectorized elementwise kernel, one per group size of <see cref="ElementwiseLaunch.GroupSizes"/>
/// (created on first use): <see cref="For"/> picks the one whose groups spread a launch over the device's
/// multiprocessors (<see cref="ElementwiseLaunch.GroupSize"/>), or, with <c>autoGroup</c>, the one launcher with
/// ILGPU's occupancy-based group size.
/// </summary>
internal sealed class VectorLaunchers
{
    private readonly GpuDevice _device;
    private readonly MethodInfo _method;
    private readonly bool _autoGroup;
    private readonly KernelLauncher?[] _launchers = new KernelLauncher?[ElementwiseLaunch.GroupSizes.Length + 1];

    /// <summary>The launchers of <paramref name="method"/> on <paramref name="device"/>.</summary>
    public VectorLaunchers(GpuDevice device, MethodInfo method, bool autoGroup)
    {
        _device = device;
        _method = method;
        _autoGroup = autoGroup;
    }

    /// <summary>The launcher for a launch of <paramref name="threads"/> threads.</summary>
    public KernelLauncher For(long threads)
    {
        if (_autoGroup) return _launchers[^1] ??= new KernelLauncher(_device, _method, grouped: false);
        var acc = _device.Accelerator;
        int group = ElementwiseLaunch.GroupSize(threads, acc.NumMultiprocessors, acc.MaxNumThreadsPerGroup);
        int at = ElementwiseLaunch.GroupSizes.IndexOf(group);
        if (at < 0) return _launchers[^1] ??= new KernelLauncher(_device, _method, grouped: false);
        return _launchers[at] ??= new KernelLauncher(_device, _method, grouped: false, group);
    }
}
