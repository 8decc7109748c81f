using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Cpu.Vectors;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Kernels over contiguous rows (the reduced or normalized axis last): reductions, cumulative sums, softmax,
/// log-softmax, layer norm, RMS norm and group norm. float32 rows are vectorized; other dtypes compute in double.
/// Work items are rows. Softmax, log-softmax and the norms take an optional last argument, the vector width in bits
/// (512 or 256; 0 or absent: the widest accelerated).
/// </summary>
public static unsafe class RowKernels
{
    /// <summary>Whether a kernel with vector-width argument <paramref name="bits"/> uses 512-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Wide(long bits) => bits == 512 || (bits == 0 && Vector512.IsHardwareAccelerated);

    /// <summary>Row reductions; arguments: <see cref="ReduceArgs{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Reduce(nint[] slots, long[] a, long start, long end)
    {
        var args = ReduceArgs.Read(a);
        var op = (ReduceOp)args.Op;
        nint x = slots[args.X];
        var dt = (DType)args.XType;
        nint y = slots[args.Y];
        var odt = (DType)args.YType;
        long n = args.RowLength;
        for (long r = start; r < end; r++)
        {
            long o = r * n;
            if (dt == DType.F32 && op is ReduceOp.Sum or ReduceOp.Mean or ReduceOp.Max or ReduceOp.Min)
            {
                float* p = (float*)x + o;
                float v = op switch
                {
                    ReduceOp.Sum => RowMath.Sum(p, n),
                    ReduceOp.Mean => RowMath.Sum(p, n) / n,
                    ReduceOp.Max => RowMath.Max(p, n),
                    _ => RowMath.Min(p, n),
                };
                ((float*)y)[r] = v;
                continue;
            }

            if (op is ReduceOp.ArgMax or ReduceOp.ArgMin)
            {
                long best = 0;
                double bv = ElementIO.Read(x, dt, o);
                for (long j = 1; j < n && !double.IsNaN(bv); j++)
                {
                    double v = ElementIO.Read(x, dt, o + j);
                    if (double.IsNaN(v) || (op == ReduceOp.ArgMax ? v > bv : v < bv))
                    {
                        bv = v;
                        best = j;
                    }
                }

                ElementIO.WriteInt(y, odt, r, best);
                continue;
            }

            if (!dt.IsFloat() && op is ReduceOp.Sum or ReduceOp.Prod or ReduceOp.Max or ReduceOp.Min)
            {
                long acc = op switch { ReduceOp.Sum => 0, ReduceOp.Prod => 1, ReduceOp.Max => long.MinValue, _ => long.MaxValue };
                for (long j = 0; j < n; j++)
                {
                    long v = ElementIO.ReadInt(x, dt, o + j);
                    acc = op switch
                    {
                        ReduceOp.Sum => unchecked(acc + v),
                        ReduceOp.Prod => unchecked(acc * v),
                        ReduceOp.Max => Math.Max(acc, v),
                        _ => Math.Min(acc, v),
                    };
                }

                ElementIO.WriteInt(y, odt, r, acc);
                continue;
            }

            double d = op switch { ReduceOp.Prod => 1, ReduceOp.Max => double.NegativeInfinity, ReduceOp.Min => double.PositiveInfinity, _ => 0 };
            for (long j = 0; j < n; j++)
            {
                double v = ElementIO.Read(x, dt, o + j);
                d = op switch
                {
                    ReduceOp.Sum or ReduceOp.Mean => d + v,
                    ReduceOp.Prod => d * v,
                    ReduceOp.Max => double.IsNaN(v) || double.IsNaN(d) ? double.NaN : Math.Max(d, v),
                    _ => double.IsNaN(v) || double.IsNaN(d) ? double.NaN : Math.Min(d, v),
                };
            }

            if (op == ReduceOp.Mean) d /= n;
            ElementIO.Write(y, odt, r, d);
        }
    }

    /// <summary>Inclusive prefix sums; arguments: <see cref="CumSumArgs{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CumSum(nint[] slots, long[] a, long start, long end)
    {
        var p = CumSumArgs.Read(a);
        nint x = slots[p.X];
        var dt = (DType)p.XType;
        nint y = slots[p.Y];
        var odt = (DType)p.YType;
        long n = p.RowLength;
        for (long r = start; r < end; r++)
        {
            long o = r * n;
            if (odt.IsFloat())
            {
                double s = 0;
                for (long j = 0; j < n; j++)
                {
                    s += ElementIO.Read(x, dt, o + j);
                    ElementIO.Write(y, odt, o + j, s);
                }
            }
            else
            {
                long s = 0;
                for (long j = 0; j < n; j++)
                {
                    s = unchecked(s + ElementIO.ReadInt(x, dt, o + j));
                    ElementIO.WriteInt(y, odt, o + j, s);
                }
            }
        }
    }

    /// <summary>Softmax along rows; arguments: <see cref="SoftmaxArgs{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(nint[] slots, long[] a, long start, long end) => SoftmaxCore(slots, a, start, end, log: false);

    /// <summary>Log-softmax along rows; arguments: <see cref="SoftmaxArgs{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LogSoftmax(nint[] slots, long[] a, long start, long end) => SoftmaxCore(slots, a, start, end, log: true);

    private static void SoftmaxCore(nint[] slots, long[] a, long start, long end, bool log)
    {
        var p = SoftmaxArgs.Read(a);
        nint x = slots[p.X];
        nint y = slots[p.Y];
        var dt = (DType)p.DType;
        long n = p.RowLength;
        if (n == 0) return;
        if (dt == DType.F32)
        {
            if (Wide(p.VectorBits)) SoftmaxF32<F32x16, Vector512<float>>((float*)x, (float*)y, n, start, end, log);
            else SoftmaxF32<F32x8, Vector256<float>>((float*)x, (float*)y, n, start, end, log);
            return;
        }

        for (long r = start; r < end; r++)
        {
            long o = r * n;

            double mx = double.NegativeInfinity;
            bool nan = false;
            for (long j = 0; j < n; j++)
            {
                double v = ElementIO.Read(x, dt, o + j);
                nan |= double.IsNaN(v);
                mx = Math.Max(mx, v);
            }

            if (nan) mx = double.NaN;
            if (double.IsNegativeInfinity(mx)) mx = 0;
            double sum = 0;
            for (long j = 0; j < n; j++) sum += Math.Exp(ElementIO.Read(x, dt, o + j) - mx);
            double ls = Math.Log(sum);
            for (long j = 0; j < n; j++)
            {
                double v = ElementIO.Read(x, dt, o + j) - mx;
                ElementIO.Write(y, dt, o + j, log ? v - ls : Math.Exp(v) / sum);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxF32<TL, TV>(float* x, float* y, long n, long start, long end, bool log)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        for (long r = start; r < end; r++)
        {
            float* px = x + (r * n), py = y + (r * n);
            float m = RowMath.Max<TL, TV>(px, n);
            if (float.IsNegativeInfinity(m)) m = 0;
            if (log)
            {
                float lse = m + MathF.Log(RowMath.SumExpShifted<TL, TV>(px, n, m));
                RowMath.ScaleShift<TL, TV>(px, py, n, 1, -lse);
            }
            else
            {
                float s = RowMath.ExpShifted<TL, TV>(px, py, n, m);
                RowMath.ScaleShift<TL, TV>(py, py, n, 1 / s, 0);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LayerNormF32<TL, TV>(float* x, float* w, float* b, float* y, long n, float eps, long start, long end)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        for (long r = start; r < end; r++)
        {
            float* px = x + (r * n);
            float mean = RowMath.Sum<TL, TV>(px, n) / n;
            float var = RowMath.SumSquaredDeviations<TL, TV>(px, n, mean) / n;
            RowMath.Normalize<TL, TV>(px, y + (r * n), n, mean, 1 / MathF.Sqrt(var + eps), w, b);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RmsNormF32<TL, TV>(float* x, float* w, float* y, long n, float eps, long start, long end)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        for (long r = start; r < end; r++)
        {
            float* px = x + (r * n);
            float rstd = 1 / MathF.Sqrt((RowMath.SumSquares<TL, TV>(px, n) / n) + eps);
            RowMath.Normalize<TL, TV>(px, y + (r * n), n, 0, rstd, w, null);
        }
    }

    /// <summary>Layer norm; arguments: <see cref="LayerNormArgs{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNorm(nint[] slots, long[] a, long start, long end)
    {
        var p = LayerNormArgs.Read(a);
        nint x = slots[p.X];
        nint w = p.Weight < 0 ? 0 : slots[p.Weight];
        nint b = p.Bias < 0 ? 0 : slots[p.Bias];
        nint y = slots[p.Y];
        var dt = (DType)p.DType;
        long n = p.RowLength;
        double eps = BitConverter.Int64BitsToDouble(p.EpsBits);
        if (dt == DType.F32)
        {
            if (Wide(p.VectorBits)) LayerNormF32<F32x16, Vector512<float>>((float*)x, (float*)w, (float*)b, (float*)y, n, (float)eps, start, end);
            else LayerNormF32<F32x8, Vector256<float>>((float*)x, (float*)w, (float*)b, (float*)y, n, (float)eps, start, end);
            return;
        }

        for (long r = start; r < end; r++)
        {
            long o = r * n;

            double s = 0;
            for (long j = 0; j < n; j++) s += ElementIO.Read(x, dt, o + j);
            double m = s / n, ss = 0;
            for (long j = 0; j < n; j++)
            {
                double d = ElementIO.Read(x, dt, o + j) - m;
                ss += d * d;
            }

            double rs = 1 / Math.Sqrt((ss / n) + eps);
            for (long j = 0; j < n; j++)
            {
                double v = (ElementIO.Read(x, dt, o + j) - m) * rs;
                if (w != 0) v *= ElementIO.Read(w, dt, j);
                if (b != 0) v += ElementIO.Read(b, dt, j);
                ElementIO.Write(y, dt, o + j, v);
            }
        }
    }

    /// <summary>RMS norm; arguments: <see cref="RmsNormArgs{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(nint[] slots, long[] a, long start, long end)
    {
        var p = RmsNormArgs.Read(a);
        nint x = slots[p.X];
        nint w = p.Weight < 0 ? 0 : slots[p.Weight];
        nint y = slots[p.Y];
        var dt = (DType)p.DType;
        long n = p.RowLength;
        double eps = BitConverter.Int64BitsToDouble(p.EpsBits);
        if (dt == DType.F32)
        {
            if (Wide(p.VectorBits)) RmsNormF32<F32x16, Vector512<float>>((float*)x, (float*)w, (float*)y, n, (float)eps, start, end);
            else RmsNormF32<F32x8, Vector256<float>>((float*)x, (float*)w, (float*)y, n, (float)eps, start, end);
            return;
        }

        for (long r = start; r < end; r++)
        {
            long o = r * n;

            double ss = 0;
            for (long j = 0; j < n; j++)
            {
                double v = ElementIO.Read(x, dt, o + j);
                ss += v * v;
            }

            double rs = 1 / Math.Sqrt((ss / n) + eps);
            for (long j = 0; j < n; j++)
            {
                double v = ElementIO.Read(x, dt, o + j) * rs;
                if (w != 0) v *= ElementIO.Read(w, dt, j);
                ElementIO.Write(y, dt, o + j, v);
            }
        }
    }

    /// <summary>
    /// Group norm over [N, C, spatial]; arguments: <see cref="GroupNormArgs{T}"/>.
    /// Work items are (n, group) pairs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GroupNorm(nint[] slots, long[] a, long start, long end)
    {
        var p = GroupNormArgs.Read(a);
        nint x = slots[p.X];
        nint w = p.Weight < 0 ? 0 : slots[p.Weight];
        nint b = p.Bias < 0 ? 0 : slots[p.Bias];
        nint y = slots[p.Y];
        var dt = (DType)p.DType;
        long c = p.Channels, sp = p.Spatial, groups = p.Groups;
        double eps = BitConverter.Int64BitsToDouble(p.EpsBits);
        long cg = c / groups, len = cg * sp;
        for (long r = start; r < end; r++)
        {
            long o = r * len;
            long g = r % groups;
            double s = 0;
            for (long j = 0; j < len; j++) s += ElementIO.Read(x, dt, o + j);
            double m = len == 0 ? 0 : s / len, ss = 0;
            for (long j = 0; j < len; j++)
            {
                double d = ElementIO.Read(x, dt, o + j) - m;
                ss += d * d;
            }

            double rs = 1 / Math.Sqrt((len == 0 ? 0 : ss / len) + eps);
            for (long j = 0; j < len; j++)
            {
                long ch = (g * cg) + (j / sp);
                double v = (ElementIO.Read(x, dt, o + j) - m) * rs;
                if (w != 0) v *= ElementIO.Read(w, dt, ch);
                if (b != 0) v += ElementIO.Read(b, dt, ch);
                ElementIO.Write(y, dt, o + j, v);
            }
        }
    }
}
