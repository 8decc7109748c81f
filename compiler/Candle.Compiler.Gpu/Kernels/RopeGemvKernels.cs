using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// A decode step's merged q/k/v product (one activation row, optionally over its rms_norm) that writes its rotary
/// embedding and KV cache rows itself (<see cref="RopeGemv{TS, TR, T, TCS}"/>): each warp computes the two weight rows
/// of one rotary pair of one part of a <see cref="Scheduling.RopeRowsCall"/> (elements j and j + headDim/2 of a head,
/// or 2j and 2j + 1 interleaved), rounds them to the dtype as the product's output would be stored, rotates them by
/// the call's tables (or copies them for a part that does not rotate) and stores them where that part writes, so the
/// product's output is never written and the rope call is not launched. The weight and activation rows are read as
/// <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/> reads them (octets of eight elements, 16-byte loads).
/// </summary>
internal static class RopeGemvKernels
{
    /// <summary>
    /// Warp w takes pair w of part 0 (w &lt; <paramref name="end0"/>), part 1 (w &lt; <paramref name="end1"/>) or
    /// part 2 (w &lt; <paramref name="end2"/>), each part with the arguments of <see cref="RopeRowKernels.Rows{T, TS}"/>
    /// whose x offsets and strides are columns of the product's one output row (<see cref="Locate"/>). The warp
    /// computes those two columns as <see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/> computes one row's
    /// pair of columns (the same <paramref name="flags"/>, <paramref name="eps"/>, x, residual, sum, norm weight
    /// <paramref name="g"/> and weight <paramref name="b"/> with rows <paramref name="bN"/> octets apart), the warps
    /// sharing the writing of the sum by contiguous runs of octets; lane 0 rounds the two values to
    /// <typeparamref name="TR"/>, rotates them (<see cref="RopeRowKernels.Pair{T, TS}"/>'s arithmetic) and stores them
    /// to the part's output, at the part's cache row when it has one and nowhere when that row is outside
    /// [0, capacity).
    /// </summary>
    public static void RopeGemv<TS, TR, T, TCS>(
        ArrayView<Quad> x, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> g, ArrayView<Quad> b,
        ArrayView<T> cos, ArrayView<T> sin, ArrayView<long> row, ArrayView<T> y0, ArrayView<T> y1, ArrayView<T> y2,
        int octets, int flags, float eps, long bN, int headDim, int interleaved, long end0, long end1, long end2,
        int r0, long a1, long a2, long xo0, long xa0, long xb0, long xc0, long xd0, long co0, long ca0, long cb0, long cc0, long cd0, long so0, long sa0, long sb0, long sc0, long sd0, long yo0, long ya0, long yb0, long yc0, long yd0, int h0, long ro0, long rs0, long pb0, long st0, long cp0,
        int r1, long b1, long b2, long xo1, long xa1, long xb1, long xc1, long xd1, long co1, long ca1, long cb1, long cc1, long cd1, long so1, long sa1, long sb1, long sc1, long sd1, long yo1, long ya1, long yb1, long yc1, long yd1, int h1, long ro1, long rs1, long pb1, long st1, long cp1,
        int r2, long c1, long c2, long xo2, long xa2, long xb2, long xc2, long xd2, long co2, long ca2, long cb2, long cc2, long cd2, long so2, long sa2, long sb2, long sc2, long sd2, long yo2, long ya2, long yb2, long yc2, long yd2, int h2, long ro2, long rs2, long pb2, long st2, long cp2)
        where TS : struct, IOctetStorage
        where TR : struct, IOctetRounding
        where T : unmanaged
        where TCS : struct, IStorage<T>
    {
        int warpsPerGroup = Group.DimX / Warp.WarpSize;
        long warp = ((long)Grid.IdxX * warpsPerGroup) + Warp.WarpIdx;
        if (warp >= end2) return;
        int part = warp < end0 ? 0 : warp < end1 ? 1 : 2;
        RopeSite site;
        if (part == 0)
        {
            site = Locate(warp, headDim, interleaved, r0, a1, a2, xo0, xa0, xb0, xc0, xd0, co0, ca0, cb0, cc0, cd0, so0, sa0, sb0, sc0, sd0, yo0, ya0, yb0, yc0, yd0, h0, ro0, rs0, pb0, st0, cp0);
        }
        else if (part == 1)
        {
            site = Locate(warp - end0, headDim, interleaved, r1, b1, b2, xo1, xa1, xb1, xc1, xd1, co1, ca1, cb1, cc1, cd1, so1, sa1, sb1, sc1, sd1, yo1, ya1, yb1, yc1, yd1, h1, ro1, rs1, pb1, st1, cp1);
        }
        else
        {
            site = Locate(warp - end1, headDim, interleaved, r2, c1, c2, xo2, xa2, xb2, xc2, xd2, co2, ca2, cb2, cc2, cd2, so2, sa2, sb2, sc2, sd2, yo2, ya2, yb2, yc2, yd2, h2, ro2, rs2, pb2, st2, cp2);
        }

        int lane = Warp.LaneIdx;

        // Every warp shares the writing of the sum (also one whose pair lands outside the cache), a contiguous run of octets each.
        long share = (octets + end2 - 1) / end2;
        bool weighted = (flags & FusedGemvKernels.HasWeight) != 0, summed = (flags & FusedGemvKernels.HasResidual) != 0;
        bool writes = (flags & FusedGemvKernels.WritesSum) != 0, normalizes = (flags & FusedGemvKernels.Normalizes) != 0;
        long lo = writes ? warp * share : 0, hi = writes ? lo + share : 0;
        var s = default(TS);
        long w0 = site.Col0 * bN, w1 = site.Col1 * bN;
        float q = 0f, d0 = 0f, d1 = 0f;
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
            var (sq, e0, e1) = FusedGemvKernels.Octets<TS, TR>(x, residual, sum, o, p, two, o, summed, store, storeP, gu, gv, weighted, u0, u1, v0, v1);
            q += sq;
            d0 += e0;
            d1 += e1;
        }

        if (normalizes) q = FusedGemvKernels.WarpSum(q);
        d0 = FusedGemvKernels.WarpSum(d0);
        d1 = FusedGemvKernels.WarpSum(d1);
        if (lane != 0) return;
        float r = normalizes ? 1f / MathF.Sqrt((q / (8f * octets)) + eps) : 1f;

        // The product's two values as its output would hold them, then the rope of RopeRowKernels.Pair.
        var v = default(TR).Round(new Lanes { L0 = d0 * r, L1 = d1 * r });
        long at0 = site.Y0, at1 = site.Y1;
        if (site.Row >= 0)
        {
            long at = row[site.Row];
            if (at < 0 || at >= site.Capacity) return;
            at0 += at * site.RowStride;
            at1 += at * site.RowStride;
        }

        float out0 = v.L0, out1 = v.L1;
        var t = default(TCS);
        if (site.Rotate != 0)
        {
            float c = t.Load(cos, site.Cos), sn = t.Load(sin, site.Sin);
            out0 = (v.L0 * c) - (v.L1 * sn);
            out1 = (v.L1 * c) + (v.L0 * sn);
        }

        if (part == 0)
        {
            t.Store(y0, at0, out0);
            t.Store(y0, at1, out1);
        }
        else if (part == 1)
        {
            t.Store(y1, at0, out0);
            t.Store(y1, at1, out1);
        }
        else
        {
            t.Store(y2, at0, out0);
            t.Store(y2, at1, out1);
        }
    }

    /// <summary>
    /// Where pair <paramref name="pair"/> of a part lives, by <see cref="RopeRowKernels.Pair{T, TS}"/>'s indexing: the
    /// two x elements (columns of the product's output row), the tables' elements and the two output elements (before
    /// the row index), and the row index's element (-1 without one).
    /// </summary>
    private static RopeSite Locate(
        long pair, int headDim, int interleaved, int rotate, long n1, long n2,
        long xOff, long x0s, long x1s, long x2s, long xd, long cOff, long c0s, long c1s, long c2s, long cd,
        long sOff, long s0s, long s1s, long s2s, long sd, long yOff, long y0s, long y1s, long y2s, long yd,
        int hasRow, long rOff, long rStride, long perBatch, long rowStride, long capacity)
    {
        int half = headDim / 2;
        long r = pair / half;
        long j = pair % half;
        long i2 = r % n2;
        long q = r / n2;
        long i1 = q % n1;
        long i0 = q / n1;
        long xr = xOff + (i0 * x0s) + (i1 * x1s) + (i2 * x2s);
        long yr = yOff + (i0 * y0s) + (i1 * y1s) + (i2 * y2s);
        long e0 = interleaved != 0 ? 2 * j : j;
        long e1 = interleaved != 0 ? e0 + 1 : j + half;
        return new RopeSite
        {
            Col0 = xr + (e0 * xd),
            Col1 = xr + (e1 * xd),
            Y0 = yr + (e0 * yd),
            Y1 = yr + (e1 * yd),
            Cos = cOff + (i0 * c0s) + (i1 * c1s) + (i2 * c2s) + (j * cd),
            Sin = sOff + (i0 * s0s) + (i1 * s1s) + (i2 * s2s) + (j * sd),
            Rotate = rotate,
            Row = hasRow != 0 ? rOff + (r / perBatch * rStride) : -1,
            RowStride = rowStride,
            Capacity = capacity,
        };
    }

    /// <summary>One rotary pair's places, as <see cref="Locate"/> finds them.</summary>
    private struct RopeSite
    {
        public long Col0;
        public long Col1;
        public long Y0;
        public long Y1;
        public long Cos;
        public long Sin;
        public int Rotate;
        public long Row;
        public long RowStride;
        public long Capacity;
    }
}
