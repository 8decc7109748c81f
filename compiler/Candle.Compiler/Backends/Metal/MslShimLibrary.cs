using System.Runtime.InteropServices;
using System.Text;

namespace Candle.Compiler.Backends.Metal;

/// <summary>MSL kernels compiled through the shim and loaded: dispatches a kernel over host buffers.</summary>
internal sealed unsafe class MslShimLibrary
{
    private readonly Dictionary<string, (nint Fn, MslKernelSignature Signature)> _kernels = new(StringComparer.Ordinal);

    internal MslShimLibrary(nint handle, IReadOnlyList<MslKernelSignature> kernels)
    {
        foreach (var k in kernels) _kernels[k.Name] = (NativeLibrary.GetExport(handle, "cd_launch_" + k.Name), k);
    }

    /// <summary>The kernels' signatures.</summary>
    public IEnumerable<MslKernelSignature> Kernels => _kernels.Values.Select(k => k.Signature);

    /// <summary>
    /// Runs <paramref name="kernel"/> over <paramref name="groups"/> threadgroups of <paramref name="threads"/>
    /// threads, buffer i of the kernel being <paramref name="buffers"/>[i].
    /// </summary>
    /// <exception cref="ArgumentException">The kernel is unknown or the buffer count is wrong.</exception>
    /// <exception cref="InvalidOperationException">The emulation found a barrier or simdgroup operation not reached by every thread.</exception>
    public void Dispatch(string kernel, ReadOnlySpan<nint> buffers, (uint X, uint Y, uint Z) groups, (uint X, uint Y, uint Z) threads)
    {
        if (!_kernels.TryGetValue(kernel, out var k)) throw new ArgumentException($"no MSL kernel '{kernel}' in the library", nameof(kernel));
        if (buffers.Length < k.Signature.BufferCount) throw new ArgumentException($"MSL kernel '{kernel}' binds {k.Signature.BufferCount} buffers, got {buffers.Length}", nameof(buffers));
        if (groups.X == 0 || groups.Y == 0 || groups.Z == 0) return;
        uint* dims = stackalloc uint[6] { groups.X, groups.Y, groups.Z, threads.X, threads.Y, threads.Z };
        byte* error = stackalloc byte[512];
        var fn = (delegate* unmanaged<nint*, uint*, byte*, int, int>)k.Fn;
        int rc;
        fixed (nint* b = buffers) rc = fn(b, dims, error, 512);
        if (rc != 0)
        {
            string message = Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(error));
            throw new InvalidOperationException($"MSL kernel '{kernel}' under the shim: {message}");
        }
    }
}
