using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Row kernels: one group per row of a dense [rows, rowLength] buffer, each thread striding over the row, the row's
/// statistics reduced over the group (<see cref="IGroupReducer"/>); f32 math whatever the storage. Kernels that pass
/// over a row more than once take a <c>cached</c> flag: when the row fits in the group's shared memory the launcher
/// requests rowLength floats of dynamic shared memory and sets it, so global memory is read once and written once; the
/// cache is a type parameter (<see cref="IRowCache"/>), so the kernels for OpenCL never name dynamic shared memory.
/// Softmax, rms_norm and layer_norm have octet forms for rows whose length is a multiple of 8 in 16-byte aligned buffers: each
/// thread reads and writes eight consecutive elements with 16-byte accesses (<see cref="IOctetStorage"/>).
/// </summary>
internal static class RowKernels
{
    /// <summary>Reduction codes of <see cref="Reduce{TX, TXS, TY, TYS, TR}"/>.</summary>
    public const int SumOp = 0, MeanOp = 1, MaxOp = 2, MinOp = 3;

    /// <summary>
    /// softmax (<paramref name="log"/> = 0) or log_softmax (1) of each row. With <paramref name="cached"/> = 1 the row is
    /// read from global memory once, kept in the group's dynamic shared memory (rowLength floats) for the later passes.
    /// </summary>
    public static void Softmax<T, TS, TR, TC>(ArrayView<T> x, ArrayView<T> y, int rowLength, int log, int cached)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TR : struct, IGroupReducer
        where TC : struct, IRowCache
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        if (!default(TC).Available) cached = 0;
        var sh = default(TC).Rows();
        float m = float.NegativeInfinity;
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j);
            if (cached != 0) sh[j] = v;
            m = GpuMath.Maximum(m, v);
        }

        m = default(TR).Max(m);
        float sum = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float e = MathF.Exp((cached != 0 ? sh[j] : s.Load(x, row + j)) - m);
            if (cached != 0 && log == 0) sh[j] = e;
            sum += e;
        }

        sum = default(TR).Sum(sum);
        if (log != 0)
        {
            float l = m + MathF.Log(sum);
            for (int j = t; j < rowLength; j += step) s.Store(y, row + j, (cached != 0 ? sh[j] : s.Load(x, row + j)) - l);
        }
        else
        {
            float r = 1f / sum;
            for (int j = t; j < rowLength; j += step) s.Store(y, row + j, (cached != 0 ? sh[j] : MathF.Exp(s.Load(x, row + j) - m)) * r);
        }
    }

    /// <summary>
    /// rms_norm: x / √(mean(x²) + eps) · w (w absent when <paramref name="hasWeight"/> is 0); with
    /// <paramref name="cached"/> = 1 the row is read once and kept in dynamic shared memory for the second pass. With
    /// <paramref name="hasResidual"/> = 1 the row is x + residual, written (rounded to the storage type) to
    /// <paramref name="sum"/> and normalized from there.
    /// </summary>
    public static void RmsNorm<T, TS, TR, TC>(ArrayView<T> x, ArrayView<T> w, ArrayView<T> residual, ArrayView<T> sum, ArrayView<T> y, int rowLength, int hasWeight, int hasResidual, float eps, int cached)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TR : struct, IGroupReducer
        where TC : struct, IRowCache
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        if (!default(TC).Available) cached = 0;
        var sh = default(TC).Rows();
        float ss = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j);
            if (hasResidual != 0)
            {
                s.Store(sum, row + j, v + s.Load(residual, row + j));
                v = s.Load(sum, row + j);
            }

            if (cached != 0) sh[j] = v;
            ss += v * v;
        }

        ss = default(TR).Sum(ss);
        float r = 1f / MathF.Sqrt((ss / rowLength) + eps);
        for (int j = t; j < rowLength; j += step)
        {
            float v = (cached != 0 ? sh[j] : hasResidual != 0 ? s.Load(sum, row + j) : s.Load(x, row + j)) * r;
            if (hasWeight != 0) v *= s.Load(w, j);
            s.Store(y, row + j, v);
        }
    }

    /// <summary>
    /// layer_norm: (x - mean) / √(var + eps) · w + b (each absent when its flag is 0); with <paramref name="cached"/> = 1
    /// the row is read once and kept in dynamic shared memory for the later passes.
    /// </summary>
    public static void LayerNorm<T, TS, TR, TC>(ArrayView<T> x, ArrayView<T> w, ArrayView<T> b, ArrayView<T> y, int rowLength, int hasWeight, int hasBias, float eps, int cached)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TR : struct, IGroupReducer
        where TC : struct, IRowCache
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        if (!default(TC).Available) cached = 0;
        var sh = default(TC).Rows();
        float sum = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j);
            if (cached != 0) sh[j] = v;
            sum += v;
        }

        float mean = default(TR).Sum(sum) / rowLength;
        float sq = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float d = (cached != 0 ? sh[j] : s.Load(x, row + j)) - mean;
            sq += d * d;
        }

        float r = 1f / MathF.Sqrt((default(TR).Sum(sq) / rowLength) + eps);
        for (int j = t; j < rowLength; j += step)
        {
            float v = ((cached != 0 ? sh[j] : s.Load(x, row + j)) - mean) * r;
            if (hasWeight != 0) v *= s.Load(w, j);
            if (hasBias != 0) v += s.Load(b, j);
            s.Store(y, row + j, v);
        }
    }

    /// <summary>
    /// <see cref="Softmax{T, TS, TR, TC}"/> over rows of <paramref name="octets"/> · 8 elements read and written eight at
    /// a time with 16-byte accesses (<see cref="IOctetStorage"/>); x and y start 16-byte aligned. The cached row is kept
    /// lane-major (<see cref="LaneMath.Put"/>).
    /// </summary>
    public static void SoftmaxOctets<TS, TR, TC>(ArrayView<Quad> x, ArrayView<Quad> y, int octets, int log, int cached)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
        where TC : struct, IRowCache
    {
        long row = (long)Grid.IdxX * octets;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        if (!default(TC).Available) cached = 0;
        var sh = default(TC).Rows();
        float m = float.NegativeInfinity;
        for (int o = t; o < octets; o += step)
        {
            var v = s.Load(x, row + o);
            if (cached != 0) LaneMath.Put(sh, o, octets, v);
            m = GpuMath.Maximum(m, LaneMath.Max(v));
        }

        m = default(TR).Max(m);
        float sum = 0f;
        for (int o = t; o < octets; o += step)
        {
            var e = LaneMath.ExpMinus(cached != 0 ? LaneMath.Get(sh, o, octets) : s.Load(x, row + o), m);
            if (cached != 0 && log == 0) LaneMath.Put(sh, o, octets, e);
            sum += LaneMath.Sum(e);
        }

        sum = default(TR).Sum(sum);
        if (log != 0)
        {
            float l = m + MathF.Log(sum);
            for (int o = t; o < octets; o += step) s.Store(y, row + o, LaneMath.Minus(cached != 0 ? LaneMath.Get(sh, o, octets) : s.Load(x, row + o), l));
        }
        else
        {
            float r = 1f / sum;
            for (int o = t; o < octets; o += step) s.Store(y, row + o, LaneMath.Times(cached != 0 ? LaneMath.Get(sh, o, octets) : LaneMath.ExpMinus(s.Load(x, row + o), m), r));
        }
    }

    /// <summary>
    /// <see cref="RmsNorm{T, TS, TR, TC}"/> over rows of <paramref name="octets"/> · 8 elements read and written eight at
    /// a time with 16-byte accesses (<see cref="IOctetStorage"/>); every view starts 16-byte aligned.
    /// </summary>
    public static void RmsNormOctets<TS, TR, TC>(ArrayView<Quad> x, ArrayView<Quad> w, ArrayView<Quad> residual, ArrayView<Quad> sum, ArrayView<Quad> y, int octets, int hasWeight, int hasResidual, float eps, int cached)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
        where TC : struct, IRowCache
    {
        long row = (long)Grid.IdxX * octets;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        if (!default(TC).Available) cached = 0;
        var sh = default(TC).Rows();
        float ss = 0f;
        for (int o = t; o < octets; o += step)
        {
            var v = s.Load(x, row + o);
            if (hasResidual != 0)
            {
                s.Store(sum, row + o, LaneMath.Plus(v, s.Load(residual, row + o)));
                v = s.Load(sum, row + o);
            }

            if (cached != 0) LaneMath.Put(sh, o, octets, v);
            ss += LaneMath.SumOfSquares(v);
        }

        ss = default(TR).Sum(ss);
        float r = 1f / MathF.Sqrt((ss / (8f * octets)) + eps);
        for (int o = t; o < octets; o += step)
        {
            var v = LaneMath.Times(cached != 0 ? LaneMath.Get(sh, o, octets) : hasResidual != 0 ? s.Load(sum, row + o) : s.Load(x, row + o), r);
            if (hasWeight != 0) v = LaneMath.Times(v, s.Load(w, o));
            s.Store(y, row + o, v);
        }
    }

    /// <summary>
    /// <see cref="LayerNorm{T, TS, TR, TC}"/> over rows of <paramref name="octets"/> · 8 elements read and written eight
    /// at a time with 16-byte accesses (<see cref="IOctetStorage"/>); every view starts 16-byte aligned.
    /// </summary>
    public static void LayerNormOctets<TS, TR, TC>(ArrayView<Quad> x, ArrayView<Quad> w, ArrayView<Quad> b, ArrayView<Quad> y, int octets, int hasWeight, int hasBias, float eps, int cached)
        where TS : struct, IOctetStorage
        where TR : struct, IGroupReducer
        where TC : struct, IRowCache
    {
        long row = (long)Grid.IdxX * octets;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        if (!default(TC).Available) cached = 0;
        var sh = default(TC).Rows();
        float rowLength = 8f * octets;
        float sum = 0f;
        for (int o = t; o < octets; o += step)
        {
            var v = s.Load(x, row + o);
            if (cached != 0) LaneMath.Put(sh, o, octets, v);
            sum += LaneMath.Sum(v);
        }

        float mean = default(TR).Sum(sum) / rowLength;
        float sq = 0f;
        for (int o = t; o < octets; o += step)
        {
            sq += LaneMath.SumOfSquares(LaneMath.Minus(cached != 0 ? LaneMath.Get(sh, o, octets) : s.Load(x, row + o), mean));
        }

        float r = 1f / MathF.Sqrt((default(TR).Sum(sq) / rowLength) + eps);
        for (int o = t; o < octets; o += step)
        {
            var v = LaneMath.Times(LaneMath.Minus(cached != 0 ? LaneMath.Get(sh, o, octets) : s.Load(x, row + o), mean), r);
            if (hasWeight != 0) v = LaneMath.Times(v, s.Load(w, o));
            if (hasBias != 0) v = LaneMath.Plus(v, s.Load(b, o));
            s.Store(y, row + o, v);
        }
    }

    /// <summary>Sum, mean, max or min of each row into one element per row.</summary>
    public static void Reduce<TX, TXS, TY, TYS, TR>(ArrayView<TX> x, ArrayView<TY> y, int rowLength, int op)
        where TX : unmanaged
        where TXS : struct, IStorage<TX>
        where TY : unmanaged
        where TYS : struct, IStorage<TY>
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TXS);
        float result;
        if (op == MaxOp || op == MinOp)
        {
            float sign = op == MaxOp ? 1f : -1f;
            float m = float.NegativeInfinity;
            for (int j = t; j < rowLength; j += step) m = GpuMath.Maximum(m, sign * s.Load(x, row + j));
            result = sign * default(TR).Max(m);
        }
        else
        {
            float sum = 0f;
            for (int j = t; j < rowLength; j += step) sum += s.Load(x, row + j);
            sum = default(TR).Sum(sum);
            result = op == MeanOp ? sum / rowLength : sum;
        }

        if (t == 0) default(TYS).Store(y, Grid.IdxX, result);
    }
    /// <summary>
    /// argmax (<paramref name="min"/> = 0) or argmin (1) of each row into one i64 per row, with the group reductions of
    /// <see cref="Reduce{TX, TXS, TY, TYS, TR}"/>: the row's extreme value (or whether it holds a NaN), then the first
    /// index that holds it as the group maximum of the negated indexes, so ties give the first index and a NaN wins
    /// (its first index), as the reference interpreter and the host sampler's greedy argmax. Indexes are exact in f32
    /// up to 2^24, the longest row the launcher admits.
    /// </summary>
    public static void ArgReduce<TX, TXS, TR>(ArrayView<TX> x, ArrayView<long> y, int rowLength, int min)
        where TX : unmanaged
        where TXS : struct, IStorage<TX>
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TXS);
        float sign = min != 0 ? -1f : 1f;
        float m = float.NegativeInfinity, nan = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j);
            if (float.IsNaN(v)) nan = 1f;
            else m = GpuMath.Maximum(m, sign * v);
        }

        m = default(TR).Max(m);
        nan = default(TR).Max(nan);
        float first = float.NegativeInfinity;
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j);
            if (nan != 0f ? float.IsNaN(v) : sign * v == m)
            {
                first = -j;
                break;
            }
        }

        first = default(TR).Max(first);
        if (t == 0) y[Grid.IdxX] = (long)-first;
    }
}
