namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// The packed copies of constant weights, one per weight and packing geometry for the whole process: plans over the
/// same weights (a model's prefill and decode plans, or plans compiled twice) share one <see cref="PackedB"/>.
/// An entry is keyed by the weight's address and geometry and remembers the object that owns the weight's memory, so
/// that a different weight later placed at the same address is never mistaken for it. The cache holds its copies
/// weakly: a packed weight lives as long as a plan's kernel references it and is freed (by its finalizer) after
/// the last such plan is collected.
/// </summary>
internal static unsafe class PackedWeightCache
{
    private static readonly Dictionary<Key, Entry> Entries = [];
    private static readonly object Gate = new();
    private static int _sweepAt = 64;
    private static long _packs;

    /// <summary>How many packed copies have been made since the process started (a diagnostic for tests).</summary>
    public static long Packs => Interlocked.Read(ref _packs);

    /// <summary>Changes whenever a packed copy is added (lets a reader skip repeated misses cheaply).</summary>
    public static long Generation => Interlocked.Read(ref _packs);

    /// <summary>The number of packed weights still alive in the cache.</summary>
    public static int LiveCount
    {
        get
        {
            lock (Gate)
            {
                int live = 0;
                foreach (var e in Entries.Values)
                {
                    if (e.Packed.TryGetTarget(out _) && e.Owner.TryGetTarget(out _)) live++;
                }

                return live;
            }
        }
    }

    /// <summary>
    /// The packed copy of the weight B[K, N] at <paramref name="b"/> (see <see cref="Sgemm.PackB(float*, int, int, int, int)"/>),
    /// made now unless a live one with the same owner and geometry exists.
    /// </summary>
    /// <param name="owner">The object owning the weight's memory (an array or memory manager); kept only weakly.</param>
    /// <param name="b">Address of B[0, 0]: float32 values, or bfloat16 ones when <paramref name="bf16"/>.</param>
    /// <param name="bf16">Whether B holds bfloat16 values (widened to float32 as they are packed).</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="rowStride">Elements between rows of B.</param>
    /// <param name="colStride">Elements between columns of B.</param>
    public static PackedB GetOrPack(object owner, void* b, bool bf16, int k, int n, int rowStride, int colStride)
    {
        ArgumentNullException.ThrowIfNull(owner);
        var kind = SgemmKernelSelector.Best;
        var key = new Key((nint)b, bf16, k, n, rowStride, colStride, kind);
        lock (Gate)
        {
            if (Entries.TryGetValue(key, out var e) && e.Packed.TryGetTarget(out var hit)
                && e.Owner.TryGetTarget(out var o) && ReferenceEquals(o, owner))
            {
                return hit;
            }

            // Packing under the lock keeps two plans prepared at once from packing the same weight twice; plans are
            // prepared rarely, so the serialization costs nothing that matters.
            var packed = bf16
                ? Bf16Packing.PackB(kind, (ushort*)b, k, n, rowStride, colStride)
                : Sgemm.PackB(kind, (float*)b, k, n, rowStride, colStride);
            Entries[key] = new Entry(new WeakReference<PackedB>(packed), new WeakReference<object>(owner));
            Interlocked.Increment(ref _packs);

            // Every product over the weight now reads the panels (one-row products too), so the mapped original's
            // pages are handed back; anything that reads it later faults them in again from the file.
            if (owner is Memory.MappedMemoryManager mapped) mapped.DropResidentPages();
            if (Entries.Count >= _sweepAt) Sweep();
            return packed;
        }
    }

    /// <summary>The live packed copy of the weight B[K, N] at <paramref name="b"/> if some plan made one; never packs.</summary>
    /// <param name="owner">The object owning the weight's memory.</param>
    /// <param name="b">Address of B[0, 0].</param>
    /// <param name="bf16">Whether B holds bfloat16 values.</param>
    /// <param name="k">Rows of B.</param>
    /// <param name="n">Columns of B.</param>
    /// <param name="rowStride">Elements between rows of B.</param>
    /// <param name="colStride">Elements between columns of B.</param>
    public static PackedB? TryGet(object owner, void* b, bool bf16, int k, int n, int rowStride, int colStride)
    {
        var key = new Key((nint)b, bf16, k, n, rowStride, colStride, SgemmKernelSelector.Best);
        lock (Gate)
        {
            return Entries.TryGetValue(key, out var e) && e.Packed.TryGetTarget(out var hit)
                && e.Owner.TryGetTarget(out var o) && ReferenceEquals(o, owner) ? hit : null;
        }
    }

    // Drops the entries whose packed copy or owner was collected; the next sweep waits for twice the survivors.
    private static void Sweep()
    {
        foreach (var (key, e) in Entries.ToArray())
        {
            if (!e.Packed.TryGetTarget(out _) || !e.Owner.TryGetTarget(out _)) Entries.Remove(key);
        }

        _sweepAt = Math.Max(64, Entries.Count * 2);
    }

    private readonly record struct Key(nint Address, bool Bf16, int K, int N, int RowStride, int ColStride, SgemmKernelKind Kind);

    private sealed record Entry(WeakReference<PackedB> Packed, WeakReference<object> Owner);
}
