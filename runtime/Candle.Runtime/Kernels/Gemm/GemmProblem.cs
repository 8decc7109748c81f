namespace Candle.Runtime.Kernels.Gemm;

/// <summary>One validated single-precision multiplication C[M,N] = alpha * A[M,K] * B[K,N] + beta * C.</summary>
internal unsafe struct GemmProblem
{
    public int M;
    public int N;
    public int K;
    public float* A;
    public long ARowStride;
    public long AColStride;
    public float* B;
    public long BRowStride;
    public long BColStride;
    public float* C;
    public long Ldc;
    public float Alpha;
    public float Beta;

    /// <summary>Added to the row index reported to the epilogue (the batch offset in batched calls).</summary>
    public int RowOffset;

    /// <summary>B pre-packed in panels of the microkernel's width covering all of K, or null.</summary>
    public float* PackedB;

    /// <summary>
    /// A pre-packed in panels of the microkernel's height covering all of K (tile t at <c>t * MR * K</c>, k at
    /// <c>k * MR</c>, alpha already applied), or null to pack A per block.
    /// </summary>
    public float* PackedA;

    /// <summary>Pre-packed bfloat16 B panels (the layout of <see cref="PackedB"/>), or null.</summary>
    public ushort* PackedBBf16;

    /// <summary>
    /// Whether the caller has just written B's panels (a convolution's unfolded windows, block by block), so that they
    /// are in cache and the driver does not fetch the next panel block ahead.
    /// </summary>
    public bool BPanelsCached;

    /// <summary>The store mode for the first k block: how the product meets the existing C.</summary>
    public readonly GemmStoreMode FirstMode =>
        Beta == 0f ? GemmStoreMode.Overwrite : Beta == 1f ? GemmStoreMode.Accumulate : GemmStoreMode.Scale;

    /// <summary>Multiply-add count, the measure of work used to pick paths and thread counts.</summary>
    public readonly long Work => (long)M * N * K;
}
