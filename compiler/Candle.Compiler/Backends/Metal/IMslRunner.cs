using System.Runtime.InteropServices;
using Candle.Runtime.Devices.Metal;

namespace Candle.Compiler.Backends.Metal;

/// <summary>Where a Metal program's kernels run: a Metal device, or the shim on a host without one.</summary>
internal interface IMslRunner : IDisposable
{
    /// <summary>A buffer the host can read and write at <paramref name="contents"/>; the handle is what dispatches bind.</summary>
    nint Allocate(long bytes, out nint contents);

    /// <summary>Releases a buffer from <see cref="Allocate"/>.</summary>
    void Free(nint handle);

    /// <summary>Runs <paramref name="kernel"/> with buffer i bound to the handle <paramref name="buffers"/>[i] and waits for it.</summary>
    void Dispatch(string kernel, ReadOnlySpan<nint> buffers, MetalGrid grid);
}

/// <summary>Runs kernels through the shim: the library kernels and the generated ones, each compiled once per process.</summary>
internal sealed unsafe class ShimMslRunner : IMslRunner
{
    private readonly IReadOnlyDictionary<string, MslShimLibrary> _generated;
    private readonly Lazy<MslShimLibrary> _library;

    /// <summary>Loads <paramref name="generated"/> (compiling those not loaded yet) and, when first needed, the library kernels.</summary>
    public ShimMslRunner(IReadOnlyList<MslKernelSource> generated)
    {
        _generated = MslShim.LoadGenerated(generated);
        _library = new Lazy<MslShimLibrary>(() => MslShim.Load(MetalLibrary.Source));
    }

    /// <inheritdoc/>
    public nint Allocate(long bytes, out nint contents)
    {
        contents = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 16), 64);
        return contents;
    }

    /// <inheritdoc/>
    public void Free(nint handle) => NativeMemory.AlignedFree((void*)handle);

    /// <inheritdoc/>
    public void Dispatch(string kernel, ReadOnlySpan<nint> buffers, MetalGrid grid)
    {
        var lib = kernel.StartsWith(MetalLibrary.Prefix, StringComparison.Ordinal) ? _library.Value
            : _generated.TryGetValue(kernel, out var g) ? g : throw new ArgumentException($"no generated MSL kernel '{kernel}' in this program", nameof(kernel));
        lib.Dispatch(kernel, buffers, grid.Groups, grid.Threads);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Shim libraries stay loaded for the process (every program with the same source shares one).
    }
}

/// <summary>Runs kernels on the Metal device (macOS): the payload compiled once, buffers in shared storage.</summary>
internal sealed class MetalDeviceRunner : IMslRunner
{
    private readonly MetalDevice _device = new();

    /// <summary>Compiles the payload's MSL on the device.</summary>
    public MetalDeviceRunner(string source) => _device.Compile(source);

    /// <inheritdoc/>
    public nint Allocate(long bytes, out nint contents) => _device.Allocate(bytes, out contents);

    /// <inheritdoc/>
    public void Free(nint handle) => MetalDevice.Free(handle);

    /// <inheritdoc/>
    public void Dispatch(string kernel, ReadOnlySpan<nint> buffers, MetalGrid grid) => _device.Dispatch(kernel, buffers, grid.Groups, grid.Threads);

    /// <inheritdoc/>
    public void Dispose() => _device.Dispose();
}
