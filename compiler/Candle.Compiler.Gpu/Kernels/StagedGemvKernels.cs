using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// The few-row products of <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/> (norm fold, gated unit, or a
/// plain product) in a staged form: each group first prepares its activation rows once, in f32, in dynamic shared
/// memory (x, plus the residual rounded as the norm stores it, times the norm's weight; the rows' sums of squares
/// reduced over the group), then every warp streams its weight rows with 16-byte loads, two or
/// <see cref="GemvKernels.DeepQuadsPerLane"/> octets of each row a lane in flight, and dots them with the shared rows
/// (16-byte shared reads), so the weight loop converts no activation element. The shared memory is
/// <see cref="SharedQuads"/> quads: row r's octet o at quad 2 · r · octets + o (its first four lanes) and
/// 2 · r · octets + octets + o (the other four), so a warp's reads of consecutive octets are consecutive quads; then one
/// quad per warp holding that warp's sums of squares of the (up to four) rows.
/// </summary>
internal static class StagedGemvKernels
{
    /// <summary>Threads of a staged group (eight warps of 32), at most.</summary>
    public const int GroupSize = 256;

    /// <summary>The dynamic shared memory of a launch, in <see cref="Quad"/>s: the staged rows and one quad per warp of the group.</summary>
    public static long SharedQuads(int rows, long octets, int warpsPerGroup) => (2L * rows * octets) + warpsPerGroup;

    /// <summary>
    /// The product of <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/> with the same operands, flags and
    /// layouts (all offsets and lengths in octets), staged: each lane loads two octets of each of its warp's two weight
    /// rows before using any. Launched with <see cref="SharedQuads"/> quads of dynamic shared memory and whole warps;
    /// with <see cref="FusedGemvKernels.WritesSum"/> group i stores the sum's octets [i · share, (i + 1) · share), share =
    /// ⌈octets / groups⌉, so every octet is written once across the grid.
    /// </summary>
    public static void StagedGemv<TS, TR, TA, TC, TCS>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> g, ArrayView<Quad> b, ArrayView<TC> c,
        int rows, int n, int octets, int flags, float eps, long bN, long xStride)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
        where TA : struct, IGateActivation
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        => Staged<TS, TR, TA, TC, TCS>(x, residual, sum, g, b, c, rows, n, octets, flags, eps, bN, xStride, 2);

    /// <summary>
    /// <see cref="StagedGemv{TS, TR, TA, TC, TCS}"/> with <see cref="GemvKernels.DeepQuadsPerLane"/> octets of each
    /// weight row loaded per lane before any is used (the deep form of the quad products).
    /// </summary>
    public static void StagedGemvDeep<TS, TR, TA, TC, TCS>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> g, ArrayView<Quad> b, ArrayView<TC> c,
        int rows, int n, int octets, int flags, float eps, long bN, long xStride)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
        where TA : struct, IGateActivation
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
        => Staged<TS, TR, TA, TC, TCS>(x, residual, sum, g, b, c, rows, n, octets, flags, eps, bN, xStride, GemvKernels.DeepQuadsPerLane);

    private static void Staged<TS, TR, TA, TC, TCS>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> g, ArrayView<Quad> b, ArrayView<TC> c,
        int rows, int n, int octets, int flags, float eps, long bN, long xStride, int depth)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
        where TA : struct, IGateActivation
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        var staged = SharedMemory.GetDynamic<Quad>();
        int warpsPerGroup = Group.DimX / Warp.WarpSize;
        int lane = Warp.LaneIdx, warpIdx = Warp.WarpIdx;
        bool weighted = (flags & FusedGemvKernels.HasWeight) != 0, summed = (flags & FusedGemvKernels.HasResidual) != 0;
        bool writes = (flags & FusedGemvKernels.WritesSum) != 0, normalizes = (flags & FusedGemvKernels.Normalizes) != 0;

        // Stage the rows: every thread of the group takes octets a group's width apart; this group stores its share of the sum.
        int share = (octets + Grid.DimX - 1) / Grid.DimX;
        int lo = writes ? Grid.IdxX * share : 0, hi = writes ? lo + share : 0;
        float q0 = 0f, q1 = 0f, q2 = 0f, q3 = 0f;
        for (int o = Group.IdxX; o < octets; o += Group.DimX)
        {
            var gv = weighted ? default(TS).Load(g, o) : default;
            bool store = o >= lo && o < hi;
            q0 += Stage<TS, TR>(x, residual, sum, staged, 0, o, octets, xStride, summed, store, weighted, gv);
            if (rows > 1)
            {
                q1 += Stage<TS, TR>(x, residual, sum, staged, 1, o, octets, xStride, summed, store, weighted, gv);
                if (rows > 2)
                {
                    q2 += Stage<TS, TR>(x, residual, sum, staged, 2, o, octets, xStride, summed, store, weighted, gv);
                    if (rows > 3) q3 += Stage<TS, TR>(x, residual, sum, staged, 3, o, octets, xStride, summed, store, weighted, gv);
                }
            }
        }

        long squaresAt = 2L * rows * octets;
        if (normalizes)
        {
            q0 = FusedGemvKernels.WarpSum(q0);
            if (rows > 1) q1 = FusedGemvKernels.WarpSum(q1);
            if (rows > 2) q2 = FusedGemvKernels.WarpSum(q2);
            if (rows > 3) q3 = FusedGemvKernels.WarpSum(q3);
            if (lane == 0) staged[squaresAt + warpIdx] = Pack(q0, q1, q2, q3);
        }

        Group.Barrier();

        // Each row's rstd from the warps' sums of squares (1 without a norm).
        float r0 = 1f, r1 = 1f, r2 = 1f, r3 = 1f;
        if (normalizes)
        {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int w = 0; w < warpsPerGroup; w++)
            {
                var sq = staged[squaresAt + w];
                s0 += Interop.IntAsFloat(sq.X);
                s1 += Interop.IntAsFloat(sq.Y);
                s2 += Interop.IntAsFloat(sq.Z);
                s3 += Interop.IntAsFloat(sq.W);
            }

            float length = 8f * octets;
            r0 = 1f / MathF.Sqrt((s0 / length) + eps);
            r1 = 1f / MathF.Sqrt((s1 / length) + eps);
            r2 = 1f / MathF.Sqrt((s2 / length) + eps);
            r3 = 1f / MathF.Sqrt((s3 / length) + eps);
        }

        bool gated = default(TA).Gated;
        int perWarp = gated ? 1 : FusedGemvKernels.RowsPerWarp;
        int col0 = perWarp * ((Grid.IdxX * warpsPerGroup) + warpIdx);
        if (col0 >= n) return;
        int col1 = gated || col0 + 1 >= n ? col0 : col0 + 1;
        long w0 = (long)col0 * bN, w1 = (long)col1 * bN;
        if (gated && (flags & FusedGemvKernels.UpFirst) != 0) w0 += n * bN;
        else if (gated) w1 += n * bN;

        float d00 = 0f, d01 = 0f, d10 = 0f, d11 = 0f, d20 = 0f, d21 = 0f, d30 = 0f, d31 = 0f;
        int width = Warp.WarpSize;
        var s = default(TS);
        for (int q = lane; q < octets; q += depth * width)
        {
            // Octets q, q + width (and q + 2·width, q + 3·width deep) of both weight rows are loaded before any is used;
            // one past the row is loaded again at q and not counted.
            int p1 = q + width, p2 = p1 + width, p3 = p2 + width;
            bool h1 = p1 < octets, h2 = depth > 2 && p2 < octets, h3 = depth > 2 && p3 < octets;
            if (!h1) p1 = q;
            if (!h2) p2 = q;
            if (!h3) p3 = q;
            var u0 = s.Load(b, w0 + q);
            var u1 = s.Load(b, w1 + q);
            var v0 = s.Load(b, w0 + p1);
            var v1 = s.Load(b, w1 + p1);
            Lanes x0 = default, x1 = default, y0 = default, y1 = default;
            if (depth > 2)
            {
                x0 = s.Load(b, w0 + p2);
                x1 = s.Load(b, w1 + p2);
                y0 = s.Load(b, w0 + p3);
                y1 = s.Load(b, w1 + p3);
            }

            var (e0, e1) = Step(staged, 0, octets, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
            d00 += e0;
            d01 += e1;
            if (rows > 1)
            {
                (e0, e1) = Step(staged, 2L * octets, octets, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
                d10 += e0;
                d11 += e1;
                if (rows > 2)
                {
                    (e0, e1) = Step(staged, 4L * octets, octets, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
                    d20 += e0;
                    d21 += e1;
                    if (rows > 3)
                    {
                        (e0, e1) = Step(staged, 6L * octets, octets, q, p1, p2, p3, h1, h2, h3, u0, u1, v0, v1, x0, x1, y0, y1);
                        d30 += e0;
                        d31 += e1;
                    }
                }
            }
        }

        FusedGemvKernels.StoreScaled<TA, TC, TCS>(c, 0, col0, col1, d00, d01, r0, lane);
        if (rows > 1) FusedGemvKernels.StoreScaled<TA, TC, TCS>(c, n, col0, col1, d10, d11, r1, lane);
        if (rows > 2) FusedGemvKernels.StoreScaled<TA, TC, TCS>(c, 2L * n, col0, col1, d20, d21, r2, lane);
        if (rows > 3) FusedGemvKernels.StoreScaled<TA, TC, TCS>(c, 3L * n, col0, col1, d30, d31, r3, lane);
    }

    /// <summary>
    /// Stages octet <paramref name="o"/> of activation row <paramref name="row"/>: s = x (+ residual, rounded; stored to
    /// the sum when <paramref name="store"/>), times the norm weight's octet <paramref name="g"/> where
    /// <paramref name="weighted"/>, into the shared rows; returns s's sum of squares.
    /// </summary>
    private static float Stage<TS, TR>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> staged, int row, int o, int octets, long xStride,
        bool summed, bool store, bool weighted, Lanes g)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
    {
        var s = default(TS);
        var v = s.Load(x, (row * xStride) + o);
        if (summed)
        {
            long at = ((long)row * octets) + o;
            v = default(TR).Round(LaneMath.Plus(v, s.Load(residual, at)));
            if (store) s.Store(sum, at, v);
        }

        float squares = LaneMath.SumOfSquares(v);
        if (weighted) v = LaneMath.Times(v, g);
        long at2 = (2L * row * octets) + o;
        staged[at2] = Pack(v.L0, v.L1, v.L2, v.L3);
        staged[at2 + octets] = Pack(v.L4, v.L5, v.L6, v.L7);
        return squares;
    }

    /// <summary>
    /// The dot products of the staged row from quad <paramref name="row"/> with two weight rows over the octets of one
    /// step (those past the row, <paramref name="h1"/>..<paramref name="h3"/> false, not counted).
    /// </summary>
    private static (float Row0, float Row1) Step(
        ArrayView<Quad> staged, long row, int octets, int q, int p1, int p2, int p3, bool h1, bool h2, bool h3,
        Lanes u0, Lanes u1, Lanes v0, Lanes v1, Lanes x0, Lanes x1, Lanes y0, Lanes y1)
    {
        var a = Operand(staged, row, octets, q);
        float r0 = FusedGemvKernels.Dot(a, u0), r1 = FusedGemvKernels.Dot(a, u1);
        if (h1)
        {
            a = Operand(staged, row, octets, p1);
            r0 += FusedGemvKernels.Dot(a, v0);
            r1 += FusedGemvKernels.Dot(a, v1);
        }

        if (h2)
        {
            a = Operand(staged, row, octets, p2);
            r0 += FusedGemvKernels.Dot(a, x0);
            r1 += FusedGemvKernels.Dot(a, x1);
        }

        if (h3)
        {
            a = Operand(staged, row, octets, p3);
            r0 += FusedGemvKernels.Dot(a, y0);
            r1 += FusedGemvKernels.Dot(a, y1);
        }

        return (r0, r1);
    }

    /// <summary>The staged octet <paramref name="o"/> of the row from quad <paramref name="row"/>: two 16-byte shared reads.</summary>
    private static Lanes Operand(ArrayView<Quad> staged, long row, int octets, int o)
    {
        var a = staged[row + o];
        var b = staged[row + octets + o];
        return new Lanes
        {
            L0 = Interop.IntAsFloat(a.X), L1 = Interop.IntAsFloat(a.Y), L2 = Interop.IntAsFloat(a.Z), L3 = Interop.IntAsFloat(a.W),
            L4 = Interop.IntAsFloat(b.X), L5 = Interop.IntAsFloat(b.Y), L6 = Interop.IntAsFloat(b.Z), L7 = Interop.IntAsFloat(b.W),
        };
    }

    private static Quad Pack(float a, float b, float c, float d) =>
        new() { X = Interop.FloatAsInt(a), Y = Interop.FloatAsInt(b), Z = Interop.FloatAsInt(c), W = Interop.FloatAsInt(d) };
}
