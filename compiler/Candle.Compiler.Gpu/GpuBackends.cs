using Candle.Compiler.Backends;

namespace Candle.Compiler.Gpu;

/// <summary>Registers the GPU backends with <see cref="BackendRegistry"/> ("cuda", "opencl", "ilgpu-cpu").</summary>
public static class GpuBackends
{
    /// <summary>The CUDA backend.</summary>
    public static GpuBackend Cuda { get; } = new(GpuKind.Cuda);

    /// <summary>The OpenCL backend.</summary>
    public static GpuBackend OpenCL { get; } = new(GpuKind.OpenCL);

    /// <summary>The GPU kernels on ILGPU's CPU accelerator (tests without a GPU).</summary>
    public static GpuBackend IlgpuCpu { get; } = new(GpuKind.Cpu);

    /// <summary>Makes the names resolve to these backends (idempotent).</summary>
    public static void Register()
    {
        BackendRegistry.Register("cuda", Cuda);
        BackendRegistry.Register("opencl", OpenCL);
        BackendRegistry.Register("ilgpu-cpu", IlgpuCpu);
    }

    /// <summary>
    /// The backend and device spec of a <c>--device</c> value: "cpu", "cuda", "cuda:1", "opencl", "opencl:0",
    /// "ilgpu-cpu"; the device part goes to <see cref="CompileOptions.Device"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The value names no known device kind.</exception>
    public static (IBackend Backend, string? Device) Resolve(string device)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        string[] parts = device.Split(':');
        string kind = parts[0];
        if (parts.Length > 2 || (parts.Length == 2 && (parts[1].Length == 0 || !parts[1].All(char.IsAsciiDigit) || !int.TryParse(parts[1], out _))))
        {
            throw new ArgumentException($"device '{device}': a device index is a number after the kind, as in {kind}:1", nameof(device));
        }

        return kind switch
        {
            "cpu" => (BackendRegistry.Default, null),
            "cuda" => (Cuda, device),
            "opencl" => (OpenCL, device),
            "ilgpu-cpu" => (IlgpuCpu, device),
            _ => throw new ArgumentException($"unknown device '{device}'; known: cpu, cuda, cuda:N, opencl, opencl:N, ilgpu-cpu", nameof(device)),
        };
    }
}
