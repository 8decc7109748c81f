namespace Candle.Runtime.Kernels.Gemm;

/// <summary>
/// A plan's handle on the packed copy of one constant weight, taken from <see cref="PackedWeightCache"/> the first
/// time a product with more than one row needs it: a plan that only ever multiplies one row (decode at batch 1)
/// reads the weight where it lies and never holds a packed copy, unless another plan over the same weight packed it,
/// in which case every product reads the panels (so that the original's pages can be given back).
/// </summary>
internal sealed unsafe class LazyPackedWeight
{
    private readonly object _owner;
    private readonly nint _b;
    private readonly bool _bf16;
    private readonly int _k, _n, _rowStride, _colStride;
    private readonly object _gate = new();
    private volatile PackedB? _packed;
    private long _missedAt = -1;

    /// <summary>Describes the weight B[K, N] at <paramref name="b"/> (bfloat16 when <paramref name="bf16"/>, else float32), owned by <paramref name="owner"/>.</summary>
    public LazyPackedWeight(object owner, void* b, bool bf16, int k, int n, int rowStride, int colStride)
    {
        _owner = owner;
        _b = (nint)b;
        _bf16 = bf16;
        _k = k;
        _n = n;
        _rowStride = rowStride;
        _colStride = colStride;
    }

    /// <summary>Whether the packed copy has been taken.</summary>
    public bool IsPacked => _packed is not null;

    /// <summary>
    /// The packed copy if this plan or another plan over the same weight has made one, else null; never packs. A miss
    /// is remembered until the process-wide cache changes, so asking on every call costs one read.
    /// </summary>
    public PackedB? Existing
    {
        get
        {
            if (_packed is { } p) return p;
            long generation = PackedWeightCache.Generation;
            if (Volatile.Read(ref _missedAt) == generation) return null;
            var hit = PackedWeightCache.TryGet(_owner, (void*)_b, _bf16, _k, _n, _rowStride, _colStride);
            if (hit is null)
            {
                Volatile.Write(ref _missedAt, generation);
                return null;
            }

            lock (_gate)
            {
                return _packed ??= hit;
            }
        }
    }

    /// <summary>The packed copy, taken from the process-wide cache (and packed there if needed) on first use.</summary>
    public PackedB Value
    {
        get
        {
            if (_packed is { } p) return p;
            lock (_gate)
            {
                return _packed ??= PackedWeightCache.GetOrPack(_owner, (void*)_b, _bf16, _k, _n, _rowStride, _colStride);
            }
        }
    }
}
