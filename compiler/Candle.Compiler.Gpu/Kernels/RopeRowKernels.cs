using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Up to three sets of rows rotated (rotary embedding) or copied in one launch: a decode step's query rope, its key
/// rope written straight into the KV cache and its value row copied into the cache
/// (<see cref="Scheduling.RopeRowsCall"/>).
/// </summary>
internal static class RopeRowKernels
{
    /// <summary>
    /// Thread i takes one element pair of one row of part 0 (i &lt; <paramref name="end0"/>), part 1
    /// (i &lt; <paramref name="end1"/>) or part 2, each part as <see cref="AttentionKernels.Rope{T, TS}"/> takes its
    /// x, tables and rows (leading dims n0 × n1 × n2 with their strides), written to a strided output view; a part
    /// with <c>rotate</c> 0 copies its pairs and reads no table. A part with <c>hasRow</c> 1 writes the rows of batch
    /// entry b (row / perBatch) <c>row[rOff + b · rStride]</c> · rowStride elements further, and nothing when that index
    /// is outside [0, capacity). The cos, sin and row buffers are shared by the parts.
    /// </summary>
    public static void Rows<T, TS>(
        Index1D index, ArrayView<T> cos, ArrayView<T> sin, ArrayView<long> row, ArrayView<T> x0, ArrayView<T> y0, ArrayView<T> x1, ArrayView<T> y1, ArrayView<T> x2, ArrayView<T> y2,
        int headDim, int interleaved, long end0, long end1,
        int r0, long a1, long a2, long xo0, long xa0, long xb0, long xc0, long xd0, long co0, long ca0, long cb0, long cc0, long cd0, long so0, long sa0, long sb0, long sc0, long sd0, long yo0, long ya0, long yb0, long yc0, long yd0, int h0, long ro0, long rs0, long pb0, long st0, long cp0,
        int r1, long b1, long b2, long xo1, long xa1, long xb1, long xc1, long xd1, long co1, long ca1, long cb1, long cc1, long cd1, long so1, long sa1, long sb1, long sc1, long sd1, long yo1, long ya1, long yb1, long yc1, long yd1, int h1, long ro1, long rs1, long pb1, long st1, long cp1,
        int r2, long c1, long c2, long xo2, long xa2, long xb2, long xc2, long xd2, long co2, long ca2, long cb2, long cc2, long cd2, long so2, long sa2, long sb2, long sc2, long sd2, long yo2, long ya2, long yb2, long yc2, long yd2, int h2, long ro2, long rs2, long pb2, long st2, long cp2)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        long i = index.X;
        if (i < end0)
        {
            Pair<T, TS>(i, cos, sin, row, x0, y0, headDim, interleaved, r0, a1, a2, xo0, xa0, xb0, xc0, xd0, co0, ca0, cb0, cc0, cd0, so0, sa0, sb0, sc0, sd0, yo0, ya0, yb0, yc0, yd0, h0, ro0, rs0, pb0, st0, cp0);
        }
        else if (i < end1)
        {
            Pair<T, TS>(i - end0, cos, sin, row, x1, y1, headDim, interleaved, r1, b1, b2, xo1, xa1, xb1, xc1, xd1, co1, ca1, cb1, cc1, cd1, so1, sa1, sb1, sc1, sd1, yo1, ya1, yb1, yc1, yd1, h1, ro1, rs1, pb1, st1, cp1);
        }
        else
        {
            Pair<T, TS>(i - end1, cos, sin, row, x2, y2, headDim, interleaved, r2, c1, c2, xo2, xa2, xb2, xc2, xd2, co2, ca2, cb2, cc2, cd2, so2, sa2, sb2, sc2, sd2, yo2, ya2, yb2, yc2, yd2, h2, ro2, rs2, pb2, st2, cp2);
        }
    }

    /// <summary>One element pair of a part of <see cref="Rows{T, TS}"/> (also the body of <see cref="AttentionKernels.Rope{T, TS}"/>).</summary>
    internal static void Pair<T, TS>(
        long pair, ArrayView<T> cos, ArrayView<T> sin, ArrayView<long> row, ArrayView<T> x, ArrayView<T> y, int headDim, int interleaved, int rotate, long n1, long n2,
        long xOff, long x0s, long x1s, long x2s, long xd, long cOff, long c0s, long c1s, long c2s, long cd,
        long sOff, long s0s, long s1s, long s2s, long sd, long yOff, long y0s, long y1s, long y2s, long yd,
        int hasRow, long rOff, long rStride, long perBatch, long rowStride, long capacity)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        var s = default(TS);
        int half = headDim / 2;
        long r = pair / half;
        long j = pair % half;
        long i2 = r % n2;
        long q = r / n2;
        long i1 = q % n1;
        long i0 = q / n1;
        long xr = xOff + (i0 * x0s) + (i1 * x1s) + (i2 * x2s);
        long yr = yOff + (i0 * y0s) + (i1 * y1s) + (i2 * y2s);
        if (hasRow != 0)
        {
            long at = row[rOff + (r / perBatch * rStride)];
            if (at < 0 || at >= capacity) return;
            yr += at * rowStride;
        }

        long e0 = interleaved != 0 ? 2 * j : j;
        long e1 = interleaved != 0 ? e0 + 1 : j + half;
        float v0 = s.Load(x, xr + (e0 * xd)), v1 = s.Load(x, xr + (e1 * xd));
        if (rotate == 0)
        {
            s.Store(y, yr + (e0 * yd), v0);
            s.Store(y, yr + (e1 * yd), v1);
            return;
        }

        float c = s.Load(cos, cOff + (i0 * c0s) + (i1 * c1s) + (i2 * c2s) + (j * cd));
        float sn = s.Load(sin, sOff + (i0 * s0s) + (i1 * s1s) + (i2 * s2s) + (j * sd));
        s.Store(y, yr + (e0 * yd), (v0 * c) - (v1 * sn));
        s.Store(y, yr + (e1 * yd), (v1 * c) + (v0 * sn));
    }
}
