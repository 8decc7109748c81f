using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Candle.Compiler.Backends;
using Candle.Compiler.Gpu.Kernels;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using IDevice = Candle.Runtime.Devices.IDevice;

namespace Candle.Compiler.Gpu;

/// <summary>Which ILGPU accelerator a <see cref="GpuDevice"/> drives.</summary>
public enum GpuKind
{
    /// <summary>An NVIDIA GPU through the CUDA driver (PTX kernels, cuBLAS for matrix products where present).</summary>
    Cuda,

    /// <summary>An OpenCL device (OpenCL C kernels, the tiled GEMM).</summary>
    OpenCL,

    /// <summary>ILGPU's CPU accelerator: the same kernels run as .NET code, for tests on machines without a GPU.</summary>
    Cpu,
}

/// <summary>
/// A GPU as an <see cref="IDevice"/>: an ILGPU context and accelerator, its default stream (every kernel and copy is
/// queued there in order, so no synchronization is needed between kernels), the kernels loaded for it, the weights
/// uploaded to it (once per weight tensor and process, shared by every plan on the device) and, on CUDA, a cuBLAS
/// handle. Open one with <see cref="Open"/>: "cuda", "cuda:1", "opencl", "opencl:0", "ilgpu-cpu".
/// </summary>
public abstract class GpuDevice : IDevice
{
    private readonly Context _context;
    private readonly ConcurrentDictionary<(MethodInfo, int), Kernel> _kernels = new();
    private readonly ConcurrentDictionary<(MethodInfo, bool, int), KernelLauncher.Invoker> _invokers = new();
    private readonly ConditionalWeakTable<HostTensor, DeviceBuffer> _weights = [];
    private readonly Lock _weightLock = new();
    private Cublas? _cublas;
    private bool _cublasTried;
    private bool _disposed;

    private protected GpuDevice(GpuKind kind, int index)
    {
        Kind = kind;
        Index = index;
        string what = kind switch
        {
            GpuKind.Cuda => "CUDA",
            GpuKind.OpenCL => "OpenCL",
            _ => "ILGPU CPU",
        };
        try
        {
            _context = Context.Create(b =>
            {
                b.Optimize(OptimizationLevel.O2).EnableAlgorithms();
                _ = kind switch
                {
                    GpuKind.Cuda => b.Cuda(),
                    GpuKind.OpenCL => b.OpenCL(),
                    _ => b.CPU(),
                };
            });
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException)
        {
            throw new BackendUnavailableException($"the {what} runtime could not be loaded: {e.Message}", e);
        }

        try
        {
            Accelerator = kind switch
            {
                GpuKind.Cuda => Pick([.. _context.GetCudaDevices()], index, "CUDA", "no NVIDIA driver (libcuda.so) or no NVIDIA GPU").CreateAccelerator(_context),
                GpuKind.OpenCL => Pick([.. _context.GetCLDevices()], index, "OpenCL", "no OpenCL ICD loader (libOpenCL.so) or no OpenCL device that ILGPU supports (it needs generic address spaces)").CreateAccelerator(_context),
                _ => _context.CreateCPUAccelerator(0),
            };
        }
        catch
        {
            _context.Dispose();
            throw;
        }

        Reducer = kind == GpuKind.Cuda ? typeof(ShuffleReducer) : typeof(SharedReducer);

        // CUDA work goes to a stream of its own: the accelerator's default is the legacy NULL stream, which cannot be
        // recorded into a graph.
        Stream = kind == GpuKind.Cuda ? Accelerator.CreateStream() : Accelerator.DefaultStream;
    }

    /// <summary>The accelerator kind.</summary>
    public GpuKind Kind { get; }

    /// <summary>The device index among the devices of its kind.</summary>
    public int Index { get; }

    /// <inheritdoc/>
    public string Name => Kind switch
    {
        GpuKind.Cuda => $"cuda:{Index}",
        GpuKind.OpenCL => $"opencl:{Index}",
        _ => "ilgpu-cpu",
    };

    /// <summary>The device's own name (the card, for reports).</summary>
    public string DeviceName => Accelerator.Name;

    /// <inheritdoc/>
    public bool IsHost => false;

    /// <summary>The ILGPU accelerator.</summary>
    internal Accelerator Accelerator { get; }

    /// <summary>
    /// The stream every kernel, copy and cuBLAS call of this device is queued on, in order (on CUDA a non-blocking
    /// stream created for the device, so runs can be recorded as graphs).
    /// </summary>
    internal AcceleratorStream Stream { get; }

    /// <summary>
    /// Whether products of a few rows against a weight may run <see cref="Kernels.GemvKernels"/> (on unless
    /// <c>CANDLE_GPU_NO_GEMV=1</c>): where cuBLAS is loaded it takes the products it can (on an H100 its few-row
    /// products ran a 1.1B fp16 decode step faster than these kernels) and they serve the rest (mixed dtypes); without
    /// it they come before the tiled GEMM.
    /// </summary>
    internal bool UseGemv { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_NO_GEMV") != "1";

    /// <summary>
    /// Whether the few-row kernels come before cuBLAS (<c>CANDLE_GPU_GEMV=warps</c> or <c>pairs</c>, which compares
    /// them with the library).
    /// </summary>
    internal bool GemvBeforeLibrary { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_GEMV") is "warps" or "pairs";

    /// <summary>
    /// Whether 16-bit weights of those products are read 16 bytes a load, one warp per weight row
    /// (<see cref="Kernels.GemvKernels.GemvWarps"/>), where the memory is aligned for it and the device has warp
    /// shuffles; <c>CANDLE_GPU_GEMV=pairs</c> keeps the 32-bit pair loads of one group per row, which compares the two.
    /// </summary>
    internal bool UseGemvWarps { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_GEMV") != "pairs";

    /// <summary>
    /// Whether few-row products whose activations share the weight's 16-bit dtype read the activations 16 bytes a load
    /// too, two weight rows a warp (<see cref="Kernels.GemvKernels.GemvQuads"/>); <c>CANDLE_GPU_GEMV_QUADS=0</c> leaves
    /// them to <see cref="Kernels.GemvKernels.GemvWarps"/>, which compares the two.
    /// </summary>
    internal bool UseGemvQuads { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_GEMV_QUADS") != "0";

    /// <summary>The group reducer the row kernels use on this device.</summary>
    internal Type Reducer { get; }

    /// <summary>The cuBLAS handle bound to the device's stream; null off CUDA or when libcublas is absent.</summary>
    internal Cublas? Cublas
    {
        get
        {
            if (_cublasTried) return _cublas;
            _cublasTried = true;
            if (Kind == GpuKind.Cuda && Environment.GetEnvironmentVariable("CANDLE_GPU_NO_CUBLAS") != "1")
            {
                // cublasCreate binds the handle to the calling thread's current context: make it this device's, since the
                // first use may come from a thread where another device's context is current (a compilation on a
                // worker thread, or several devices in one process).
                Accelerator.Bind();
                _cublas = Cublas.TryCreate(((CudaStream)Stream).StreamPtr);
            }

            return _cublas;
        }
    }

    /// <summary>
    /// Opens the device a spec names: <c>cuda</c>, <c>cuda:N</c>, <c>opencl</c>, <c>opencl:N</c> or <c>ilgpu-cpu</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The spec is not one of those forms.</exception>
    /// <exception cref="BackendUnavailableException">The driver, runtime library or device is missing (the message says which).</exception>
    public static GpuDevice Open(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        string name = spec, index = "0";
        int colon = spec.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            name = spec[..colon];
            index = spec[(colon + 1)..];
        }

        if (!int.TryParse(index, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i))
        {
            throw new ArgumentException($"device '{spec}': the index after ':' must be a non-negative integer", nameof(spec));
        }

        return name switch
        {
            "cuda" => new CudaDevice(i),
            "opencl" => new OpenClDevice(i),
            "ilgpu-cpu" when colon < 0 => new IlgpuCpuDevice(),
            _ => throw new ArgumentException($"unknown device '{spec}'; known: cuda, cuda:N, opencl, opencl:N, ilgpu-cpu", nameof(spec)),
        };
    }

    /// <inheritdoc/>
    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return new GpuBuffer(this, Accelerator.Allocate1D<byte>(Math.Max(bytes, 1)), bytes);
        }
        catch (Exception e) when (e is AcceleratorException or CudaException)
        {
            throw new OutOfMemoryException($"{Name} could not allocate {bytes} bytes: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, DeviceBuffer destination, long offset)
    {
        var g = Own(destination);
        g.CheckRange(offset, source.Length);
        if (source.IsEmpty) return;
        g.View(offset, source.Length).CopyFromCPU(Stream, ref MemoryMarshal.GetReference(source), source.Length);
    }

    /// <inheritdoc/>
    public void CopyToHost(DeviceBuffer source, long offset, Span<byte> destination)
    {
        var g = Own(source);
        g.CheckRange(offset, destination.Length);
        if (destination.IsEmpty) return;
        g.View(offset, destination.Length).CopyToCPU(Stream, ref MemoryMarshal.GetReference(destination), destination.Length);
        Stream.Synchronize();
    }

    /// <inheritdoc/>
    /// <remarks>Queued on the device's stream.</remarks>
    public void Copy(DeviceBuffer source, long sourceOffset, DeviceBuffer destination, long destinationOffset, long bytes)
    {
        var s = Own(source);
        var d = Own(destination);
        s.CheckRange(sourceOffset, bytes);
        d.CheckRange(destinationOffset, bytes);
        if (bytes == 0) return;
        long from = s.Start + sourceOffset, to = d.Start + destinationOffset;
        if (ReferenceEquals(s.Memory, d.Memory) && from < to + bytes && to < from + bytes)
        {
            throw new ArgumentException($"the {bytes}-byte ranges of a copy on {Name} share memory");
        }

        s.View(sourceOffset, bytes).CopyTo(Stream, d.View(destinationOffset, bytes));
    }

    /// <inheritdoc/>
    public DeviceBuffer Slice(DeviceBuffer buffer, long offset, long bytes)
    {
        var g = Own(buffer);
        g.CheckRange(offset, bytes);
        return new GpuBuffer(this, g.Memory, bytes, g.Start + offset, owns: false);
    }

    /// <inheritdoc/>
    public void Synchronize() => Accelerator.Synchronize();

    /// <summary>The weight's device copy, uploaded the first time any plan on this device asks for it.</summary>
    internal DeviceBuffer Weight(HostTensor weight)
    {
        lock (_weightLock)
        {
            if (_weights.TryGetValue(weight, out var b) && !b.IsDisposed) return b;
            var buf = Allocate(weight.Data.Length);
            CopyFromHost(weight.Data.Span, buf, 0);
            _weights.AddOrUpdate(weight, buf);
            return buf;
        }
    }

    /// <summary>
    /// The kernel of <paramref name="method"/> compiled for this device (once per group size): explicitly grouped, or
    /// implicitly grouped with ILGPU's occupancy-based group size (<paramref name="groupSize"/> 0) or with groups of
    /// <paramref name="groupSize"/> threads.
    /// </summary>
    internal Kernel Kernel(MethodInfo method, bool explicitlyGrouped, int groupSize = 0) =>
        _kernels.GetOrAdd((method, explicitlyGrouped ? -1 : groupSize), key => key.Item2 switch
        {
            < 0 => Accelerator.LoadKernel(key.Item1),
            0 => Accelerator.LoadAutoGroupedKernel(key.Item1),
            _ => Accelerator.LoadImplicitlyGroupedKernel(key.Item1, key.Item2),
        });

    /// <summary>The typed invoker of a kernel on this device (per group size), built by <paramref name="build"/> the first time.</summary>
    internal KernelLauncher.Invoker Invoker(MethodInfo method, bool explicitlyGrouped, int groupSize, Func<KernelLauncher.Invoker> build) =>
        _invokers.GetOrAdd((method, explicitlyGrouped, groupSize), _ => build());

    /// <summary>The buffer as this device's memory.</summary>
    /// <exception cref="ArgumentException">The buffer is on another device.</exception>
    internal GpuBuffer Own(DeviceBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return buffer is GpuBuffer g && ReferenceEquals(g.Device, this)
            ? g
            : throw new ArgumentException($"the buffer is on {buffer.Device.Name}, not on {Name}");
    }

    /// <summary>Releases the kernels, cuBLAS, the accelerator and the context.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _cublas?.Dispose();
        foreach (var k in _kernels.Values) k.Dispose();
        if (!ReferenceEquals(Stream, Accelerator.DefaultStream)) Stream.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({DeviceName})";

    private static Device Pick(List<Device> devices, int index, string what, string missing)
    {
        if (devices.Count == 0) throw new BackendUnavailableException($"no {what} device: {missing}");
        if (index >= devices.Count) throw new BackendUnavailableException($"no {what} device {index}: {devices.Count} found ({string.Join(", ", devices.Select(d => d.Name))})");
        return devices[index];
    }
}

/// <summary>An NVIDIA GPU through CUDA.</summary>
public sealed class CudaDevice : GpuDevice
{
    /// <summary>Opens CUDA device <paramref name="index"/>.</summary>
    /// <exception cref="BackendUnavailableException">No CUDA driver or no such device.</exception>
    public CudaDevice(int index = 0)
        : base(GpuKind.Cuda, index)
    {
    }
}

/// <summary>An OpenCL device.</summary>
public sealed class OpenClDevice : GpuDevice
{
    /// <summary>Opens OpenCL device <paramref name="index"/> (among those ILGPU supports).</summary>
    /// <exception cref="BackendUnavailableException">No OpenCL loader or no such device.</exception>
    public OpenClDevice(int index = 0)
        : base(GpuKind.OpenCL, index)
    {
    }
}

/// <summary>ILGPU's CPU accelerator: GPU kernels run as .NET code (tests without a GPU).</summary>
public sealed class IlgpuCpuDevice : GpuDevice
{
    /// <summary>Creates the CPU accelerator.</summary>
    public IlgpuCpuDevice()
        : base(GpuKind.Cpu, 0)
    {
    }
}

/// <summary>
/// Memory on a <see cref="GpuDevice"/>: an allocation of its own, or a byte range of another buffer
/// (<see cref="GpuDevice.Slice"/>) that frees nothing and lives as long as that buffer.
/// </summary>
internal sealed class GpuBuffer(GpuDevice device, MemoryBuffer1D<byte, Stride1D.Dense> memory, long bytes, long start = 0, bool owns = true) : DeviceBuffer(device, bytes)
{
    /// <summary>The allocation the bytes lie in.</summary>
    public MemoryBuffer1D<byte, Stride1D.Dense> Memory { get; } = memory;

    /// <summary>Where the buffer's first byte lies in <see cref="Memory"/>.</summary>
    public long Start { get; } = start;

    /// <summary>The bytes at <paramref name="offset"/> as a view.</summary>
    public ArrayView<byte> View(long offset, long bytes) => Memory.View.SubView(Start + offset, bytes);

    /// <summary>The device address of byte <paramref name="offset"/>.</summary>
    public nint Address(long offset) => Memory.NativePtr + (nint)(Start + offset);

    protected override void Dispose(bool disposing)
    {
        if (owns) Memory.Dispose();
    }
}
