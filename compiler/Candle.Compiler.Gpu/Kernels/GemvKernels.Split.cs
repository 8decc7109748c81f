using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// The split-K form of the quad few-row products: a product with few weight rows leaves too few warps resident to keep
/// the memory busy with one warp per row pair, so here <c>splits</c> warps of one group read the same two weight rows,
/// each a slice of k, and the group adds their partial sums in shared memory in slice order (deterministic, no
/// atomics), one warp writing each output.
/// </summary>
internal static partial class GemvKernels
{
    /// <summary>Most warps a group of the split products has (and so the most slices a row pair is split into).</summary>
    public const int MaxSplitWarps = 8;

    /// <summary>Partial sums one warp of a split product leaves in shared memory: two weight rows times <see cref="MaxRows"/> activation rows.</summary>
    private const int PartialsPerWarp = QuadRowsPerWarp * MaxRows;

    /// <summary>
    /// <see cref="GemvQuads{TW, TC, TCS}"/> with each row pair read by <paramref name="splits"/> warps of the group (1,
    /// 2, 4 or 8; the group's warps a multiple of it, at most <see cref="MaxSplitWarps"/>): warp w of the group takes
    /// row pair w / <paramref name="splits"/> of the group's and the quads [s · <paramref name="slice"/>, (s + 1) ·
    /// <paramref name="slice"/>) of its rows, s = w mod <paramref name="splits"/> (cut at <paramref name="quads"/>; a
    /// slice past the row adds nothing). The other arguments are those of <see cref="GemvQuads{TW, TC, TCS}"/>.
    /// </summary>
    public static void GemvQuadsSplit<TW, TC, TCS>(
        ArrayView<Quad> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int quads, long aOff, long aM, long bOff, long bN, int splits, int slice)
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        => Split<TW, TC, TCS>(a, b, c, rows, n, quads, aOff, aM, bOff, bN, splits, slice, 2);

    /// <summary>
    /// <see cref="GemvQuadsSplit{TW, TC, TCS}"/> with the loads of <see cref="GemvQuadsDeep{TW, TC, TCS}"/>:
    /// <see cref="DeepQuadsPerLane"/> quads of each weight row per lane in flight. The arguments are those of
    /// <see cref="GemvQuadsSplit{TW, TC, TCS}"/>.
    /// </summary>
    public static void GemvQuadsSplitDeep<TW, TC, TCS>(
        ArrayView<Quad> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int quads, long aOff, long aM, long bOff, long bN, int splits, int slice)
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        => Split<TW, TC, TCS>(a, b, c, rows, n, quads, aOff, aM, bOff, bN, splits, slice, DeepQuadsPerLane);

    /// <summary>
    /// The body of the split products: every warp sums its slice (<see cref="PairRange{TW}"/>, the body of the unsplit
    /// forms), reduces it over the warp and leaves it in shared memory; after the group's barrier, lane 2r + i (modulo the
    /// warp's width) of the warp that took slice 0 adds up activation row r's sums with weight row i of the pair over the slices in order and
    /// stores them. Warps past the last row pair read nothing but still reach the barrier.
    /// </summary>
    private static void Split<TW, TC, TCS>(
        ArrayView<Quad> a, ArrayView<Quad> b, ArrayView<TC> c, int rows, int n, int quads, long aOff, long aM, long bOff, long bN, int splits, int slice, int depth)
        where TW : struct, IWordPairs
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        var partials = SharedMemory.Allocate<float>(MaxSplitWarps * PartialsPerWarp);
        int warp = Warp.WarpIdx, lane = Warp.LaneIdx;
        int part = warp % splits, pair = warp / splits;
        int pairsPerGroup = Group.DimX / Warp.WarpSize / splits;
        int col0 = QuadRowsPerWarp * ((Grid.IdxX * pairsPerGroup) + pair);
        bool live = col0 < n;
        int col1 = col0 + 1 < n ? col0 + 1 : col0;
        int start = part * slice;
        int end = start + slice < quads ? start + slice : quads;
        var s = default(PairSums);
        if (live) s = PairRange<TW>(a, b, rows, start, end, aOff, aM, bOff + ((long)col0 * bN), bOff + ((long)col1 * bN), depth);

        int at = warp * PartialsPerWarp;
        Partial(partials, at, s.R00, s.R01, lane);
        if (rows > 1) Partial(partials, at + 2, s.R10, s.R11, lane);
        if (rows > 2) Partial(partials, at + 4, s.R20, s.R21, lane);
        if (rows > 3) Partial(partials, at + 6, s.R30, s.R31, lane);
        Group.Barrier();

        if (!live || part != 0) return;
        for (int l = lane; l < QuadRowsPerWarp * rows; l += Warp.WarpSize)
        {
            int row = l / QuadRowsPerWarp, which = l % QuadRowsPerWarp;
            if (which == 1 && col1 == col0) continue;
            float sum = 0f;
            for (int p = 0, from = at + l; p < splits; p++, from += PartialsPerWarp) sum += partials[from];
            default(TCS).Store(c, ((long)row * n) + col0 + which, sum);
        }
    }

    /// <summary>Reduces a warp's two sums of one activation row and leaves them in shared memory at <paramref name="at"/> and the place after it (lane 0 writes).</summary>
    private static void Partial(ArrayView<float> partials, int at, float s0, float s1, int lane)
    {
        s0 = WarpSum(s0);
        s1 = WarpSum(s1);
        if (lane != 0) return;
        partials[at] = s0;
        partials[at + 1] = s1;
    }
}
