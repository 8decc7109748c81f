namespace Candle.Compiler.Gpu;

/// <summary>
/// A batched product's batch dims split for cuBLAS's strided-batched call, which walks A and B with one stride each:
/// the longest trailing run of batch dims that both operands walk with one uniform stride (row-major) is the inner
/// batch of one call, and the leading dims before it are looped on the host, one call per outer index at that
/// index's offsets. A batch of 8 × 12 heads over q in [batch, seq, heads, dim] (strides seq·heads·dim and dim, not
/// one stride) becomes 8 calls of 12.
/// </summary>
internal sealed class BatchSplit
{
    /// <summary>Most host-looped calls a split may take (beyond it the tiled GEMM's single launch is kept).</summary>
    public const int MaxOuter = 64;

    /// <summary>A split for up to <paramref name="rank"/> batch dims (buffers reused across runs).</summary>
    public BatchSplit(int rank)
    {
        OuterSizes = new long[rank];
        OuterA = new long[rank];
        OuterB = new long[rank];
    }

    /// <summary>Leading (host-looped) dims in use.</summary>
    public int OuterRank { get; private set; }

    /// <summary>The host-looped dims' sizes (the first <see cref="OuterRank"/>).</summary>
    public long[] OuterSizes { get; }

    /// <summary>A's strides along the host-looped dims.</summary>
    public long[] OuterA { get; }

    /// <summary>B's strides along the host-looped dims.</summary>
    public long[] OuterB { get; }

    /// <summary>Host-looped calls: the product of <see cref="OuterSizes"/>.</summary>
    public long OuterCount { get; private set; }

    /// <summary>Products of one call.</summary>
    public long Inner { get; private set; }

    /// <summary>A's stride between the products of one call.</summary>
    public long InnerA { get; private set; }

    /// <summary>B's stride between the products of one call.</summary>
    public long InnerB { get; private set; }

    /// <summary>
    /// Splits batch dims of <paramref name="sizes"/> walked by A with <paramref name="sa"/> and B with
    /// <paramref name="sb"/>; false when the host loop would take more than <see cref="MaxOuter"/> calls. Dims of
    /// size 1 are dropped.
    /// </summary>
    public bool Split(long[] sizes, long[] sa, long[] sb)
    {
        // The inner run: trailing dims while each operand's stride continues its uniform walk.
        long inner = 1, unitA = 0, unitB = 0;
        int first = sizes.Length;
        for (int d = sizes.Length - 1; d >= 0; d--)
        {
            if (sizes[d] == 1)
            {
                first = d;
                continue;
            }

            if (inner == 1)
            {
                (unitA, unitB) = (sa[d], sb[d]);
            }
            else if (sa[d] != unitA * inner || sb[d] != unitB * inner)
            {
                break;
            }

            inner *= sizes[d];
            first = d;
        }

        int r = 0;
        long outer = 1;
        for (int d = 0; d < first; d++)
        {
            if (sizes[d] == 1) continue;
            OuterSizes[r] = sizes[d];
            OuterA[r] = sa[d];
            OuterB[r] = sb[d];
            outer *= sizes[d];
            r++;
        }

        (OuterRank, OuterCount, Inner, InnerA, InnerB) = (r, outer, inner, unitA, unitB);
        return outer <= MaxOuter;
    }

    /// <summary>
    /// The element offsets into A and B of host-looped call <paramref name="o"/> (row-major over
    /// <see cref="OuterSizes"/>); its products are batches o · <see cref="Inner"/> onward of the output.
    /// </summary>
    public (long A, long B) Offsets(long o)
    {
        long a = 0, b = 0;
        for (int d = OuterRank - 1; d >= 0; d--)
        {
            long i = o % OuterSizes[d];
            o /= OuterSizes[d];
            a += i * OuterA[d];
            b += i * OuterB[d];
        }

        return (a, b);
    }
}
