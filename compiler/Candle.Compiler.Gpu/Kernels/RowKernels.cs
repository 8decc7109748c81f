using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Row kernels: one group per row of a dense [rows, rowLength] buffer, each thread striding over the row, the row's
/// statistics reduced over the group (<see cref="IGroupReducer"/>); f32 math whatever the storage.
/// </summary>
internal static class RowKernels
{
    /// <summary>Reduction codes of <see cref="Reduce{TX, TXS, TY, TYS, TR}"/>.</summary>
    public const int SumOp = 0, MeanOp = 1, MaxOp = 2, MinOp = 3;

    /// <summary>softmax (<paramref name="log"/> = 0) or log_softmax (1) of each row.</summary>
    public static void Softmax<T, TS, TR>(ArrayView<T> x, ArrayView<T> y, int rowLength, int log)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        float m = float.NegativeInfinity;
        for (int j = t; j < rowLength; j += step) m = GpuMath.Maximum(m, s.Load(x, row + j));
        m = default(TR).Max(m);
        float sum = 0f;
        for (int j = t; j < rowLength; j += step) sum += MathF.Exp(s.Load(x, row + j) - m);
        sum = default(TR).Sum(sum);
        if (log != 0)
        {
            float l = m + MathF.Log(sum);
            for (int j = t; j < rowLength; j += step) s.Store(y, row + j, s.Load(x, row + j) - l);
        }
        else
        {
            float r = 1f / sum;
            for (int j = t; j < rowLength; j += step) s.Store(y, row + j, MathF.Exp(s.Load(x, row + j) - m) * r);
        }
    }

    /// <summary>rms_norm: x / √(mean(x²) + eps) · w (w absent when <paramref name="hasWeight"/> is 0).</summary>
    public static void RmsNorm<T, TS, TR>(ArrayView<T> x, ArrayView<T> w, ArrayView<T> y, int rowLength, int hasWeight, float eps)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        float ss = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j);
            ss += v * v;
        }

        ss = default(TR).Sum(ss);
        float r = 1f / MathF.Sqrt((ss / rowLength) + eps);
        for (int j = t; j < rowLength; j += step)
        {
            float v = s.Load(x, row + j) * r;
            if (hasWeight != 0) v *= s.Load(w, j);
            s.Store(y, row + j, v);
        }
    }

    /// <summary>layer_norm: (x - mean) / √(var + eps) · w + b (each absent when its flag is 0).</summary>
    public static void LayerNorm<T, TS, TR>(ArrayView<T> x, ArrayView<T> w, ArrayView<T> b, ArrayView<T> y, int rowLength, int hasWeight, int hasBias, float eps)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TR : struct, IGroupReducer
    {
        long row = (long)Grid.IdxX * rowLength;
        int t = Group.IdxX, step = Group.DimX;
        var s = default(TS);
        float sum = 0f;
        for (int j = t; j < rowLength; j += step) sum += s.Load(x, row + j);
        float mean = default(TR).Sum(sum) / rowLength;
        float sq = 0f;
        for (int j = t; j < rowLength; j += step)
        {
            float d = s.Load(x, row + j) - mean;
            sq += d * d;
        }

        float r = 1f / MathF.Sqrt((default(TR).Sum(sq) / rowLength) + eps);
        for (int j = t; j < rowLength; j += step)
        {
            float v = (s.Load(x, row + j) - mean) * r;
            if (hasWeight != 0) v *= s.Load(w, j);
            if (hasBias != 0) v += s.Load(b, j);
            s.Store(y, row + j, v);
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
}
