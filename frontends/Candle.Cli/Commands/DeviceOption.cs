using System.CommandLine;
using Candle.Compiler.Backends;
using Candle.Compiler.Gpu;

namespace Candle.Cli.Commands;

/// <summary>The <c>--device</c> option shared by the commands that run models.</summary>
internal static class DeviceOption
{
    static DeviceOption() => GpuBackends.Register();

    public static Option<string> Create() => new("--device")
    {
        Description = "where to run: cpu (compiled kernels), cuda or cuda:N (an NVIDIA GPU), opencl or opencl:N (an OpenCL device), "
            + "reference (the reference interpreter), metal (the Metal device on macOS; elsewhere the same MSL on the CPU through "
            + "the shim, which needs clang++), metal-shim, or ilgpu-cpu (the GPU kernels on ILGPU's CPU accelerator, for checks)",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>The backend for a <c>--device</c> value (a device index, as in cuda:1, goes to <see cref="Options"/>).</summary>
    /// <exception cref="ArgumentException">The value names no device.</exception>
    public static IBackend Resolve(string device) => Choose(device).Backend;

    /// <summary><paramref name="options"/> (default: <see cref="CompileOptions.Default"/>) with the device a <c>--device</c> value names.</summary>
    /// <exception cref="ArgumentException">The value names no device.</exception>
    public static CompileOptions Options(string device, CompileOptions? options = null) =>
        (options ?? CompileOptions.Default) with { Device = Choose(device).Spec };

    private static (IBackend Backend, string? Spec) Choose(string device)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        string kind = device.Split(':')[0];
        if (kind is "cuda" or "opencl" or "ilgpu-cpu") return GpuBackends.Resolve(device);
        if (device.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException($"--device '{device}': only cuda, opencl and ilgpu-cpu take a device index (as in cuda:1)");
        }

        return BackendRegistry.Names.Contains(device, StringComparer.Ordinal)
            ? (BackendRegistry.Get(device), null)
            : throw new ArgumentException($"--device '{device}' is not a device; known: cpu, cuda, cuda:N, opencl, opencl:N, reference, metal, metal-shim, ilgpu-cpu");
    }
}
