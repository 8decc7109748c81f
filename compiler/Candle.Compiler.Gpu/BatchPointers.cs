using System.Runtime.InteropServices;
using Candle.Runtime.Devices;
using Frame = Candle.Compiler.Gpu.GpuExecutable.Frame;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The device arrays of operand addresses of one batched product issued as one <c>cublasGemmBatchedEx</c> call (a
/// batch that no single stride walks: heads read out of [batch, seq, heads, dim]): A's, B's and C's addresses, one per
/// product, in a device buffer that the step keeps per distinct set of addresses (at most <see cref="MaxSets"/>). A set
/// is uploaded once, outside any CUDA graph recording, and never overwritten, so a recorded graph that reads one keeps
/// reading the addresses it was recorded with.
/// </summary>
internal sealed class BatchPointers
{
    /// <summary>Most address sets kept per product (a run's binding decides its set; a few bindings alternate).</summary>
    public const int MaxSets = 8;

    private readonly List<(long[] Addresses, DeviceBuffer Buffer)> _sets = [];
    private long[] _host = [];

    /// <summary>Set by the caller: the addresses of A, then B, then C, <see cref="Count"/> each.</summary>
    public Span<long> Addresses => _host;

    /// <summary>Products in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Makes room for <paramref name="count"/> products' addresses (contents undefined).</summary>
    public void Resize(int count)
    {
        Count = count;
        if (_host.Length != 3 * count) _host = new long[3 * count];
    }

    /// <summary>
    /// The device addresses of the A, B and C arrays holding the host's <see cref="Addresses"/>: a set kept from an
    /// earlier run, or a new one uploaded now (into a buffer kept by <paramref name="f"/>'s executable); null when the set
    /// is new and cannot be uploaded (while a CUDA graph is recorded, or <see cref="MaxSets"/> are kept already).
    /// </summary>
    public (nint A, nint B, nint C)? Arrays(Frame f, GpuDevice device)
    {
        var found = _sets.Find(s => s.Addresses.AsSpan().SequenceEqual(_host));
        var buffer = found.Buffer;
        if (buffer is null)
        {
            if (f.Capturing || _sets.Count == MaxSets) return null;
            buffer = device.Allocate((long)_host.Length * sizeof(long));
            f.Keep(buffer);
            device.CopyFromHost(MemoryMarshal.AsBytes(_host.AsSpan()), buffer, 0);
            _sets.Add(((long[])_host.Clone(), buffer));
        }

        nint at = device.Own(buffer).Address(0);
        return (at, at + (Count * sizeof(long)), at + (2 * Count * sizeof(long)));
    }
}
