using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Persistent, software-pipelined forms of <see cref="HeldRowKernels"/>' rms_norm and softmax: a launch has about as
/// many groups as the device keeps resident (not one a row), each group takes rows <c>Grid.IdxX</c>,
/// <c>+ Grid.DimX</c>, … and, before it reduces, scales and stores the row it holds, issues the 16-byte loads of its
/// next row into a second set of registers, so the next row's bytes are in flight across the current row's group
/// reduction (two barriers and the shuffles of <see cref="IGroupReducer"/>) and its stores. rms_norm's weight octets
/// are the same for every row: each thread loads its own once, before the first row, instead of once a row after the
/// reduction, which took a dependent load off every row's critical path. With a residual, the next row's residual
/// octets are prefetched too, and the sum is rounded to its dtype in registers (<see cref="IOctetStorage.Round"/>)
/// instead of being read back after its store.
/// <para>
/// Why this form rather than several rows a group with every load issued up front: a row of 4096 f32 already needs
/// 256 threads holding two octets each (64 f32 registers of data a thread); a group holding two such rows would need
/// twice the registers for the same bytes in flight and would halve the groups resident, whereas the prefetch here
/// keeps one row's bytes in flight per group at all times, even while every resident group is between its reduction's
/// barriers. Each thread holds at most <see cref="MaxOctetsPerThread"/> octets (current and next: four), so the
/// registers stay within what lets several groups of 256 threads share a multiprocessor.
/// </para>
/// Every row's results are those of <see cref="HeldRowKernels"/> (the same operations in the same order).
/// </summary>
internal static class PipelinedRowKernels
{
    /// <summary>Most octets of a row a thread holds (the next row's as many again).</summary>
    public const int MaxOctetsPerThread = 2;

    /// <summary>
    /// rms_norm of each of <paramref name="rows"/> rows of <paramref name="octets"/> · 8 elements (optionally of
    /// x + residual, the sum written to <paramref name="sum"/> and normalized as stored), times the weight when
    /// <paramref name="hasWeight"/>; needs <paramref name="octets"/> ≤ <see cref="MaxOctetsPerThread"/> · group size.
    /// </summary>
    public static void RmsNorm<TS, TR>(ArrayView<Quad> x, ArrayView<Quad> w, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> y, int rows, int octets, int hasWeight, int hasResidual, float eps)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
    {
        int t = Group.IdxX;
        int o0 = t, o1 = t + Group.DimX;
        bool h0 = o0 < octets, h1 = o1 < octets;
        var s = default(TS);
        Lanes w0 = default, w1 = default;
        if (hasWeight != 0)
        {
            if (h0) w0 = s.Load(w, o0);
            if (h1) w1 = s.Load(w, o1);
        }

        long row = Grid.IdxX, stride = Grid.DimX;
        bool summed = hasResidual != 0;
        var (v0, v1) = Octets<TS>(x, row, rows, octets, o0, o1, h0, h1, true);
        var (r0, r1) = Octets<TS>(residual, row, rows, octets, o0, o1, h0, h1, summed);

        for (; row < rows; row += stride)
        {
            long at = row * octets, next = row + stride;

            // The next row's loads, issued before this row's reduction waits on anything.
            var (n0, n1) = Octets<TS>(x, next, rows, octets, o0, o1, h0, h1, true);
            var (m0, m1) = Octets<TS>(residual, next, rows, octets, o0, o1, h0, h1, summed);

            if (summed)
            {
                v0 = LaneMath.Plus(v0, r0);
                v1 = LaneMath.Plus(v1, r1);
                if (h0) s.Store(sum, at + o0, v0);
                if (h1) s.Store(sum, at + o1, v1);
                v0 = s.Round(v0);
                v1 = s.Round(v1);
            }

            // Octets not held are zero: they add nothing.
            float ss = LaneMath.SumOfSquares(v0) + LaneMath.SumOfSquares(v1);
            ss = default(TR).Sum(ss);
            float r = 1f / MathF.Sqrt((ss / (8f * octets)) + eps);
            if (h0) s.Store(y, at + o0, Scaled(v0, w0, r, hasWeight));
            if (h1) s.Store(y, at + o1, Scaled(v1, w1, r, hasWeight));
            (v0, v1, r0, r1) = (n0, n1, m0, m1);
        }
    }

    /// <summary>
    /// softmax (<paramref name="log"/> = 0) or log_softmax (1) of each of <paramref name="rows"/> rows of
    /// <paramref name="octets"/> · 8 elements; needs <paramref name="octets"/> ≤ <see cref="MaxOctetsPerThread"/> · group size.
    /// </summary>
    public static void Softmax<TS, TR>(ArrayView<Quad> x, ArrayView<Quad> y, int rows, int octets, int log)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
    {
        int t = Group.IdxX;
        int o0 = t, o1 = t + Group.DimX;
        bool h0 = o0 < octets, h1 = o1 < octets;
        var s = default(TS);
        long row = Grid.IdxX, stride = Grid.DimX;
        var (v0, v1) = Octets<TS>(x, row, rows, octets, o0, o1, h0, h1, true);

        for (; row < rows; row += stride)
        {
            long at = row * octets, next = row + stride;
            var (n0, n1) = Octets<TS>(x, next, rows, octets, o0, o1, h0, h1, true);

            float m = float.NegativeInfinity;
            if (h0) m = GpuMath.Maximum(m, LaneMath.Max(v0));
            if (h1) m = GpuMath.Maximum(m, LaneMath.Max(v1));
            m = default(TR).Max(m);
            Lanes e0 = default, e1 = default;
            if (h0) e0 = LaneMath.ExpMinus(v0, m);
            if (h1) e1 = LaneMath.ExpMinus(v1, m);
            float total = default(TR).Sum(LaneMath.Sum(e0) + LaneMath.Sum(e1));
            if (log != 0)
            {
                float l = m + MathF.Log(total);
                if (h0) s.Store(y, at + o0, LaneMath.Minus(v0, l));
                if (h1) s.Store(y, at + o1, LaneMath.Minus(v1, l));
            }
            else
            {
                float inv = 1f / total;
                if (h0) s.Store(y, at + o0, LaneMath.Times(e0, inv));
                if (h1) s.Store(y, at + o1, LaneMath.Times(e1, inv));
            }

            (v0, v1) = (n0, n1);
        }
    }

    /// <summary>
    /// A thread's two octets (<paramref name="o0"/>, <paramref name="o1"/>, each loaded where held) of row
    /// <paramref name="row"/> of <paramref name="v"/>; zeros past the last row or when not <paramref name="read"/>.
    /// </summary>
    private static (Lanes First, Lanes Second) Octets<TS>(ArrayView<Quad> v, long row, long rows, int octets, int o0, int o1, bool h0, bool h1, bool read)
        where TS : struct, IOctetStorage
    {
        Lanes a = default, b = default;
        if (read && row < rows)
        {
            var s = default(TS);
            long at = row * octets;
            if (h0) a = s.Load(v, at + o0);
            if (h1) b = s.Load(v, at + o1);
        }

        return (a, b);
    }

    private static Lanes Scaled(Lanes v, Lanes w, float r, int hasWeight)
    {
        var n = LaneMath.Times(v, r);
        return hasWeight != 0 ? LaneMath.Times(n, w) : n;
    }
}
