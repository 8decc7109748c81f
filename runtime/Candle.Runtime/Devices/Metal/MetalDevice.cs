using System.Runtime.Versioning;

namespace Candle.Runtime.Devices.Metal;

/// <summary>
/// A Metal device reached through the Objective-C runtime: compiles an MSL source once into a library, makes a
/// compute pipeline per kernel, allocates buffers in shared storage (the host reads and writes them in place) and
/// dispatches a kernel over a grid of threadgroups, waiting for it. Only macOS has one; elsewhere
/// <see cref="IsSupported"/> is false and the constructor throws <see cref="PlatformNotSupportedException"/>.
/// </summary>
public sealed class MetalDevice : IDisposable
{
    private const nuint StorageModeShared = 0;
    private static readonly Lazy<bool> s_supported = new(Probe);
    private readonly nint _device;
    private readonly nint _queue;
    private readonly Dictionary<string, nint> _pipelines = new(StringComparer.Ordinal);
    private nint _library;

    /// <summary>Opens the system's default Metal device.</summary>
    /// <exception cref="PlatformNotSupportedException">Not macOS, or no Metal device.</exception>
    public MetalDevice()
    {
        if (!IsSupported) throw new PlatformNotSupportedException(UnavailableReason);
        _device = CreateDevice();
        _queue = Send(_device, "newCommandQueue");
    }

    /// <summary>Whether this machine has a Metal device.</summary>
    public static bool IsSupported => s_supported.Value;

    /// <summary>Why there is no Metal device here.</summary>
    public static string UnavailableReason => OperatingSystem.IsMacOS()
        ? "MTLCreateSystemDefaultDevice returned no device"
        : $"Metal needs macOS; this is {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";

    /// <summary>Compiles the kernels' MSL (fast math off, so results follow IEEE float as the reference does).</summary>
    /// <exception cref="InvalidOperationException">Metal rejects the source (the message has its diagnostics).</exception>
    public void Compile(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        nint options = ObjC.Send(ObjC.Send(ObjC.GetClass("MTLCompileOptions"), ObjC.Selector("alloc")), ObjC.Selector("init"));
        ObjC.SendVoid(options, ObjC.Selector("setFastMathEnabled:"), false);
        _library = ObjC.Send(_device, ObjC.Selector("newLibraryWithSource:options:error:"), ObjC.NSString(source), options, out nint error);
        ObjC.Release(options);
        if (_library == 0) throw new InvalidOperationException($"Metal rejected the MSL: {ObjC.Describe(error)}");
    }

    /// <summary>A buffer of <paramref name="bytes"/> in shared storage; <paramref name="contents"/> is its host address.</summary>
    public nint Allocate(long bytes, out nint contents)
    {
        nint buffer = ObjC.Send(_device, ObjC.Selector("newBufferWithLength:options:"), (nuint)Math.Max(bytes, 16), StorageModeShared);
        if (buffer == 0) throw new OutOfMemoryException($"the Metal device could not allocate {bytes} bytes");
        contents = Send(buffer, "contents");
        return buffer;
    }

    /// <summary>Releases a buffer from <see cref="Allocate"/>.</summary>
    public static void Free(nint buffer) => ObjC.Release(buffer);

    /// <summary>Runs <paramref name="kernel"/> with buffer i bound to <paramref name="buffers"/>[i] and waits for it.</summary>
    /// <exception cref="InvalidOperationException">The kernel is not in the compiled source, or the command buffer failed.</exception>
    public void Dispatch(string kernel, ReadOnlySpan<nint> buffers, (uint X, uint Y, uint Z) groups, (uint X, uint Y, uint Z) threads)
    {
        nint pipeline = Pipeline(kernel);
        nint commands = Send(_queue, "commandBuffer");
        nint encoder = Send(commands, "computeCommandEncoder");
        ObjC.SendVoid(encoder, ObjC.Selector("setComputePipelineState:"), pipeline);
        for (int i = 0; i < buffers.Length; i++) ObjC.SendVoid(encoder, ObjC.Selector("setBuffer:offset:atIndex:"), buffers[i], 0, (nuint)i);
        ObjC.SendVoid(encoder, ObjC.Selector("dispatchThreadgroups:threadsPerThreadgroup:"), new ObjC.MTLSize(groups.X, groups.Y, groups.Z), new ObjC.MTLSize(threads.X, threads.Y, threads.Z));
        ObjC.SendVoid(encoder, ObjC.Selector("endEncoding"));
        ObjC.SendVoid(commands, ObjC.Selector("commit"));
        ObjC.SendVoid(commands, ObjC.Selector("waitUntilCompleted"));
        nint error = Send(commands, "error");
        if (error != 0) throw new InvalidOperationException($"Metal kernel '{kernel}' failed: {ObjC.Describe(error)}");
    }

    private nint Pipeline(string kernel)
    {
        if (_pipelines.TryGetValue(kernel, out nint p)) return p;
        if (_library == 0) throw new InvalidOperationException("no MSL compiled on this Metal device");
        nint function = ObjC.Send(_library, ObjC.Selector("newFunctionWithName:"), ObjC.NSString(kernel));
        if (function == 0) throw new InvalidOperationException($"no kernel '{kernel}' in the compiled MSL");
        p = ObjC.Send(_device, ObjC.Selector("newComputePipelineStateWithFunction:error:"), function, out nint error);
        ObjC.Release(function);
        if (p == 0) throw new InvalidOperationException($"Metal could not build a pipeline for '{kernel}': {ObjC.Describe(error)}");
        _pipelines[kernel] = p;
        return p;
    }

    private static nint Send(nint receiver, string selector) => ObjC.Send(receiver, ObjC.Selector(selector));

    private static bool Probe()
    {
        if (!OperatingSystem.IsMacOS()) return false;
        try
        {
            nint device = CreateDevice();
            ObjC.Release(device);
            return device != 0;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [SupportedOSPlatform("macos")]
    private static nint CreateDeviceCore() => ObjC.CreateSystemDefaultDevice();

    private static nint CreateDevice() => OperatingSystem.IsMacOS() ? CreateDeviceCore() : 0;

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (nint p in _pipelines.Values) ObjC.Release(p);
        _pipelines.Clear();
        ObjC.Release(_library);
        ObjC.Release(_queue);
        ObjC.Release(_device);
        _library = 0;
    }
}
