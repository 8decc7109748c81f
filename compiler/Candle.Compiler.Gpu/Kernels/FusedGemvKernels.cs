using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Few-row products (<see cref="GemvKernels.MaxRows"/> activation rows at most) that compute their operand on the fly,
/// the rms_norm of x (+ a residual) times its weight, so the normalized row is never written, and optionally their
/// gated output, act(gate) · up of two weight rows, so the product's two halves are never written either
/// (<see cref="NormGemv{TS, TR, TA, TC, TCS}"/>). Each warp takes two weight rows as
/// <see cref="GemvKernels.GemvQuads{TW, TC, TCS}"/> does; the activation, weight and norm rows are read as octets of
/// eight elements with 16-byte loads (<see cref="IOctetStorage"/>), so every offset and length is in octets.
/// </summary>
internal static class FusedGemvKernels
{
    /// <summary>Weight rows one warp takes.</summary>
    public const int RowsPerWarp = 2;

    /// <summary>Flag of <see cref="NormGemv{TS, TR, TA, TC, TCS}"/>: the norm has a weight.</summary>
    public const int HasWeight = 1;

    /// <summary>Flag of <see cref="NormGemv{TS, TR, TA, TC, TCS}"/>: the norm's input is x + residual.</summary>
    public const int HasResidual = 2;

    /// <summary>Flag of <see cref="NormGemv{TS, TR, TA, TC, TCS}"/>: this launch writes the sum x + residual.</summary>
    public const int WritesSum = 4;

    /// <summary>Flag of <see cref="NormGemv{TS, TR, TA, TC, TCS}"/> with a gated activation: the up rows come first, each gate row n rows after its up row.</summary>
    public const int UpFirst = 16;

    /// <summary>Flag of <see cref="NormGemv{TS, TR, TA, TC, TCS}"/>: x is normalized (without it the product reads x as it is and there is no norm weight, residual or sum).</summary>
    public const int Normalizes = 8;

    /// <summary>
    /// c[r, j] = rstd_r · Σ_i b[j, i] · (s[r, i] · g_i) with s = x (+ residual, rounded to the dtype as the norm stores
    /// it; <see cref="HasResidual"/> among <paramref name="flags"/>) and rstd_r = 1 / sqrt(mean_i s[r, i]² +
    /// <paramref name="eps"/>), g the norm's weight (ones without <see cref="HasWeight"/>): the product of rms_norm(s) · g
    /// with the weight rows, in f32, each warp accumulating Σ s² of every activation row while it streams the rows (the
    /// activation is small and stays cached); without <see cref="Normalizes"/>, rstd_r = 1, g = 1 and s = x. x row r
    /// starts at octet r · <paramref name="xStride"/>; residual and sum are dense [rows, octets]; weight row j starts at
    /// octet j · <paramref name="bN"/> (the view starts at row 0); c is dense [rows, n]. Where <typeparamref name="TA"/>
    /// is gated, output column j is act(gate) · up of weight row j (the gate) and row j + n (the up row; the other way
    /// round with <see cref="UpFirst"/>), one column a warp; otherwise a warp takes columns 2w and 2w + 1. With
    /// <see cref="WritesSum"/> the warps also store s to <paramref name="sum"/>, each warp a contiguous share of the
    /// octets, so every octet is written once; sum must not overlap x or the residual.
    /// </summary>
    public static void NormGemv<TS, TR, TA, TC, TCS>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> g, ArrayView<Quad> b, ArrayView<TC> c,
        int rows, int n, int octets, int flags, float eps, long bN, long xStride)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
        where TA : struct, IGateActivation
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        bool gated = default(TA).Gated;
        int warpsPerGroup = Group.DimX / Warp.WarpSize;
        int warp = (Grid.IdxX * warpsPerGroup) + Warp.WarpIdx;
        int perWarp = gated ? 1 : RowsPerWarp;
        int col0 = perWarp * warp;
        if (col0 >= n) return;
        int col1 = gated || col0 + 1 >= n ? col0 : col0 + 1;
        int lane = Warp.LaneIdx;

        // The warps that have weight rows share the writing of the sum, a contiguous run of octets each.
        int warps = (n + perWarp - 1) / perWarp;
        int share = (octets + warps - 1) / warps;
        bool weighted = (flags & HasWeight) != 0, summed = (flags & HasResidual) != 0, writes = (flags & WritesSum) != 0;
        bool normalizes = (flags & Normalizes) != 0;
        int lo = writes ? warp * share : 0, hi = writes ? lo + share : 0;
        var s = default(TS);
        long w0 = (long)col0 * bN, w1 = (long)col1 * bN;
        if (gated && (flags & UpFirst) != 0) w0 += n * bN;
        else if (gated) w1 += n * bN;
        float q0 = 0f, q1 = 0f, q2 = 0f, q3 = 0f;
        float d00 = 0f, d01 = 0f, d10 = 0f, d11 = 0f, d20 = 0f, d21 = 0f, d30 = 0f, d31 = 0f;
        for (int o = lane; o < octets; o += 2 * Warp.WarpSize)
        {
            // Octets o and o + a warp's width of both weight rows are loaded before either is used (four weight loads a
            // lane in flight); past the row the second is loaded again at o and not counted.
            int p = o + Warp.WarpSize;
            bool two = p < octets;
            if (!two) p = o;
            var u0 = s.Load(b, w0 + o);
            var u1 = s.Load(b, w1 + o);
            var v0 = s.Load(b, w0 + p);
            var v1 = s.Load(b, w1 + p);
            var gu = weighted ? s.Load(g, o) : default;
            var gv = weighted ? s.Load(g, p) : default;
            bool store = o >= lo && o < hi, storeP = two && p >= lo && p < hi;
            var (sq, e0, e1) = Octets<TS, TR>(x, residual, sum, o, p, two, o, summed, store, storeP, gu, gv, weighted, u0, u1, v0, v1);
            q0 += sq;
            d00 += e0;
            d01 += e1;
            if (rows > 1)
            {
                (sq, e0, e1) = Octets<TS, TR>(x, residual, sum, xStride + o, xStride + p, two, octets + o, summed, store, storeP, gu, gv, weighted, u0, u1, v0, v1);
                q1 += sq;
                d10 += e0;
                d11 += e1;
                if (rows > 2)
                {
                    (sq, e0, e1) = Octets<TS, TR>(x, residual, sum, (2L * xStride) + o, (2L * xStride) + p, two, (2L * octets) + o, summed, store, storeP, gu, gv, weighted, u0, u1, v0, v1);
                    q2 += sq;
                    d20 += e0;
                    d21 += e1;
                    if (rows > 3)
                    {
                        (sq, e0, e1) = Octets<TS, TR>(x, residual, sum, (3L * xStride) + o, (3L * xStride) + p, two, (3L * octets) + o, summed, store, storeP, gu, gv, weighted, u0, u1, v0, v1);
                        q3 += sq;
                        d30 += e0;
                        d31 += e1;
                    }
                }
            }
        }

        // Without a norm every row's rstd is 1: no squares reduced.
        float length = normalizes ? 8f * octets : 0f;
        StorePair<TA, TC, TCS>(c, 0, col0, col1, q0, d00, d01, length, eps, lane);
        if (rows > 1) StorePair<TA, TC, TCS>(c, n, col0, col1, q1, d10, d11, length, eps, lane);
        if (rows > 2) StorePair<TA, TC, TCS>(c, 2L * n, col0, col1, q2, d20, d21, length, eps, lane);
        if (rows > 3) StorePair<TA, TC, TCS>(c, 3L * n, col0, col1, q3, d30, d31, length, eps, lane);
    }

    /// <summary>
    /// Two activation octets of one row, at x octets <paramref name="xAt"/> and <paramref name="xAtP"/> (the second
    /// counted when <paramref name="two"/>; <paramref name="at"/> is the first's place in the dense residual and sum, the
    /// second a warp's width after it): their sums of squares and dot products with the two weight rows' octets
    /// (<paramref name="u0"/>, <paramref name="u1"/> and <paramref name="v0"/>, <paramref name="v1"/>), as <see cref="Octet"/> gives them.
    /// </summary>
    internal static (float Squares, float Row0, float Row1) Octets<TS, TR>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, long xAt, long xAtP, bool two, long at, bool summed, bool store, bool storeP,
        Lanes gu, Lanes gv, bool weighted, Lanes u0, Lanes u1, Lanes v0, Lanes v1)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
    {
        var (sq, e0, e1) = Octet<TS, TR>(x, residual, sum, xAt, at, summed, store, gu, weighted, u0, u1);
        if (two)
        {
            var (sqP, f0, f1) = Octet<TS, TR>(x, residual, sum, xAtP, at + (xAtP - xAt), summed, storeP, gv, weighted, v0, v1);
            sq += sqP;
            e0 += f0;
            e1 += f1;
        }

        return (sq, e0, e1);
    }

    /// <summary>
    /// One activation octet: s = x at octet <paramref name="xAt"/> (+ residual at <paramref name="at"/>, rounded; stored
    /// to sum there when <paramref name="store"/>), its sum of squares, and its dot products (times the norm weight
    /// <paramref name="g"/>) with two weight octets.
    /// </summary>
    private static (float Squares, float Row0, float Row1) Octet<TS, TR>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, long xAt, long at, bool summed, bool store, Lanes g, bool weighted, Lanes u0, Lanes u1)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
    {
        var s = default(TS);
        var v = s.Load(x, xAt);
        if (summed)
        {
            v = default(TR).Round(LaneMath.Plus(v, s.Load(residual, at)));
            if (store) s.Store(sum, at, v);
        }

        float squares = LaneMath.SumOfSquares(v);
        if (weighted) v = LaneMath.Times(v, g);
        return (squares, Dot(v, u0), Dot(v, u1));
    }

    /// <summary>The dot product of two octets (shared with <see cref="StagedGemvKernels"/>).</summary>
    internal static float Dot(Lanes a, Lanes b) =>
        ((a.L0 * b.L0) + (a.L1 * b.L1) + (a.L2 * b.L2) + (a.L3 * b.L3)) + ((a.L4 * b.L4) + (a.L5 * b.L5) + (a.L6 * b.L6) + (a.L7 * b.L7));

    /// <summary>
    /// Reduces one activation row's sum of squares over the warp and stores its two dot products scaled by the row's
    /// rstd (1 where <paramref name="length"/> is 0: no norm), as <see cref="StoreScaled{TA, TC, TCS}"/> does.
    /// </summary>
    private static void StorePair<TA, TC, TCS>(ArrayView<TC> c, long row, int col0, int col1, float squares, float d0, float d1, float length, float eps, int lane)
        where TA : struct, IGateActivation
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        if (length > 0f) squares = WarpSum(squares);
        float r = length > 0f ? 1f / MathF.Sqrt((squares / length) + eps) : 1f;
        StoreScaled<TA, TC, TCS>(c, row, col0, col1, d0, d1, r, lane);
    }

    /// <summary>
    /// Reduces two dot products over the warp, scales them by <paramref name="scale"/> and stores them from lane 0: two
    /// columns, or act(gate) · up in one where <typeparamref name="TA"/> is gated (shared with <see cref="StagedGemvKernels"/>).
    /// </summary>
    internal static void StoreScaled<TA, TC, TCS>(ArrayView<TC> c, long row, int col0, int col1, float d0, float d1, float scale, int lane)
        where TA : struct, IGateActivation
        where TC : unmanaged
        where TCS : struct, IStorage<TC>
    {
        d0 = WarpSum(d0);
        d1 = WarpSum(d1);
        if (lane != 0) return;
        var act = default(TA);
        if (act.Gated)
        {
            default(TCS).Store(c, row + col0, act.Apply(d0 * scale) * (d1 * scale));
            return;
        }

        default(TCS).Store(c, row + col0, d0 * scale);
        if (col1 != col0) default(TCS).Store(c, row + col1, d1 * scale);
    }

    internal static float WarpSum(float value)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) value += Warp.ShuffleXor(value, o);
        return value;
    }
}
