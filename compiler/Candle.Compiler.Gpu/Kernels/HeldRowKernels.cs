using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// One-pass octet forms of rms_norm and softmax for rows of at most <see cref="MaxOctetsPerThread"/> octets a thread:
/// each thread loads its octets (<c>t</c>, <c>t + group</c>, … of the row) into registers with 16-byte loads, all of
/// them before any arithmetic, the group reduces the row's statistics (<see cref="IGroupReducer"/>), and the thread
/// scales and stores the octets it holds: every element is read from global memory once and no shared memory holds the
/// row, so more rows are in flight on a multiprocessor than the shared-memory cached forms allow. The results are
/// those of <see cref="RowKernels.RmsNormOctets{TS, TR, TC}"/> and <see cref="RowKernels.SoftmaxOctets{TS, TR, TC}"/>.
/// </summary>
internal static class HeldRowKernels
{
    /// <summary>Most octets a thread holds.</summary>
    public const int MaxOctetsPerThread = 4;

    /// <summary>
    /// rms_norm of each row of <paramref name="octets"/> · 8 elements (optionally of x + residual, the sum written to
    /// <paramref name="sum"/> and normalized as stored), times the weight when <paramref name="hasWeight"/>; needs
    /// <paramref name="octets"/> ≤ <see cref="MaxOctetsPerThread"/> · group size.
    /// </summary>
    public static void RmsNorm<TS, TR>(ArrayView<Quad> x, ArrayView<Quad> w, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> y, int octets, int hasWeight, int hasResidual, float eps)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * octets;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        int o0 = t, o1 = t + step, o2 = t + (2 * step), o3 = t + (3 * step);
        bool h0 = o0 < octets, h1 = o1 < octets, h2 = o2 < octets, h3 = o3 < octets;
        Lanes v0 = default, v1 = default, v2 = default, v3 = default;
        if (h0) v0 = s.Load(x, row + o0);
        if (h1) v1 = s.Load(x, row + o1);
        if (h2) v2 = s.Load(x, row + o2);
        if (h3) v3 = s.Load(x, row + o3);
        if (hasResidual != 0)
        {
            if (h0) v0 = Summed(s, residual, sum, row + o0, v0);
            if (h1) v1 = Summed(s, residual, sum, row + o1, v1);
            if (h2) v2 = Summed(s, residual, sum, row + o2, v2);
            if (h3) v3 = Summed(s, residual, sum, row + o3, v3);
        }

        // Octets not held are zero: they add nothing.
        float ss = (LaneMath.SumOfSquares(v0) + LaneMath.SumOfSquares(v1)) + (LaneMath.SumOfSquares(v2) + LaneMath.SumOfSquares(v3));
        ss = default(TR).Sum(ss);
        float r = 1f / MathF.Sqrt((ss / (8f * octets)) + eps);
        if (h0) s.Store(y, row + o0, Scaled(s, w, o0, v0, r, hasWeight));
        if (h1) s.Store(y, row + o1, Scaled(s, w, o1, v1, r, hasWeight));
        if (h2) s.Store(y, row + o2, Scaled(s, w, o2, v2, r, hasWeight));
        if (h3) s.Store(y, row + o3, Scaled(s, w, o3, v3, r, hasWeight));
    }

    /// <summary>
    /// softmax (<paramref name="log"/> = 0) or log_softmax (1) of each row of <paramref name="octets"/> · 8 elements;
    /// needs <paramref name="octets"/> ≤ <see cref="MaxOctetsPerThread"/> · group size.
    /// </summary>
    public static void Softmax<TS, TR>(ArrayView<Quad> x, ArrayView<Quad> y, int octets, int log)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * octets;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        int o0 = t, o1 = t + step, o2 = t + (2 * step), o3 = t + (3 * step);
        bool h0 = o0 < octets, h1 = o1 < octets, h2 = o2 < octets, h3 = o3 < octets;
        Lanes v0 = default, v1 = default, v2 = default, v3 = default;
        if (h0) v0 = s.Load(x, row + o0);
        if (h1) v1 = s.Load(x, row + o1);
        if (h2) v2 = s.Load(x, row + o2);
        if (h3) v3 = s.Load(x, row + o3);
        float m = float.NegativeInfinity;
        if (h0) m = GpuMath.Maximum(m, LaneMath.Max(v0));
        if (h1) m = GpuMath.Maximum(m, LaneMath.Max(v1));
        if (h2) m = GpuMath.Maximum(m, LaneMath.Max(v2));
        if (h3) m = GpuMath.Maximum(m, LaneMath.Max(v3));
        m = default(TR).Max(m);
        Lanes e0 = default, e1 = default, e2 = default, e3 = default;
        if (h0) e0 = LaneMath.ExpMinus(v0, m);
        if (h1) e1 = LaneMath.ExpMinus(v1, m);
        if (h2) e2 = LaneMath.ExpMinus(v2, m);
        if (h3) e3 = LaneMath.ExpMinus(v3, m);
        float sum = default(TR).Sum((LaneMath.Sum(e0) + LaneMath.Sum(e1)) + (LaneMath.Sum(e2) + LaneMath.Sum(e3)));
        if (log != 0)
        {
            float l = m + MathF.Log(sum);
            if (h0) s.Store(y, row + o0, LaneMath.Minus(v0, l));
            if (h1) s.Store(y, row + o1, LaneMath.Minus(v1, l));
            if (h2) s.Store(y, row + o2, LaneMath.Minus(v2, l));
            if (h3) s.Store(y, row + o3, LaneMath.Minus(v3, l));
        }
        else
        {
            float r = 1f / sum;
            if (h0) s.Store(y, row + o0, LaneMath.Times(e0, r));
            if (h1) s.Store(y, row + o1, LaneMath.Times(e1, r));
            if (h2) s.Store(y, row + o2, LaneMath.Times(e2, r));
            if (h3) s.Store(y, row + o3, LaneMath.Times(e3, r));
        }
    }

    /// <summary>x + residual at octet <paramref name="at"/>, stored to <paramref name="sum"/> and read back as stored (rounded to its dtype).</summary>
    private static Lanes Summed<TS>(TS s, ArrayView<Quad> residual, ArrayView<Quad> sum, long at, Lanes v)
        where TS : struct, IOctetStorage
    {
        s.Store(sum, at, LaneMath.Plus(v, s.Load(residual, at)));
        return s.Load(sum, at);
    }

    private static Lanes Scaled<TS>(TS s, ArrayView<Quad> w, int o, Lanes v, float r, int hasWeight)
        where TS : struct, IOctetStorage
    {
        var n = LaneMath.Times(v, r);
        return hasWeight != 0 ? LaneMath.Times(n, s.Load(w, o)) : n;
    }
}
