using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// Rotary embedding (float32 rows vectorized) and scaled dot-product attention in double on contiguous tensors
/// (the float32 path is <see cref="FlashAttentionKernel"/>).
/// </summary>
public static unsafe class AttentionKernels
{
    /// <summary>
    /// Rotary embedding; arguments: <see cref="RopeArgs{T}"/>. cos and sin hold D/2
    /// values per row of x. Work items are rows of x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rope(nint[] slots, long[] a, long start, long end)
    {
        var p = RopeArgs.Read(a);
        nint x = slots[p.X], cos = slots[p.Cos], sin = slots[p.Sin], y = slots[p.Y];
        var dt = (DType)p.DType;
        long d = p.HeadDim, h = d / 2;
        bool inter = p.Interleaved != 0;
        if (dt == DType.F32)
        {
            RopeF32((float*)x, (float*)cos, (float*)sin, (float*)y, d, inter, start, end);
            return;
        }

        for (long r = start; r < end; r++)
        {
            long o = r * d, oc = r * h;
            for (long j = 0; j < h; j++)
            {
                double c = ElementIO.Read(cos, dt, oc + j), s = ElementIO.Read(sin, dt, oc + j);
                long i0 = inter ? o + (2 * j) : o + j, i1 = inter ? i0 + 1 : o + j + h;
                double x0 = ElementIO.Read(x, dt, i0), x1 = ElementIO.Read(x, dt, i1);
                ElementIO.Write(y, dt, i0, (x0 * c) - (x1 * s));
                ElementIO.Write(y, dt, i1, (x1 * c) + (x0 * s));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RopeF32(float* x, float* cos, float* sin, float* y, long d, bool interleaved, long start, long end)
    {
        long h = d / 2;
        for (long r = start; r < end; r++)
        {
            float* xr = x + (r * d), yr = y + (r * d), c = cos + (r * h), s = sin + (r * h);
            long j = 0;
            if (!interleaved)
            {
                int w = Vector256<float>.Count;
                for (; j + w <= h; j += w)
                {
                    var x0 = Vector256.Load(xr + j);
                    var x1 = Vector256.Load(xr + h + j);
                    var vc = Vector256.Load(c + j);
                    var vs = Vector256.Load(s + j);
                    ((x0 * vc) - (x1 * vs)).Store(yr + j);
                    ((x1 * vc) + (x0 * vs)).Store(yr + h + j);
                }

                for (; j < h; j++)
                {
                    float x0 = xr[j], x1 = xr[h + j];
                    yr[j] = (x0 * c[j]) - (x1 * s[j]);
                    yr[h + j] = (x1 * c[j]) + (x0 * s[j]);
                }
            }
            else
            {
                for (; j < h; j++)
                {
                    float x0 = xr[2 * j], x1 = xr[(2 * j) + 1];
                    yr[2 * j] = (x0 * c[j]) - (x1 * s[j]);
                    yr[(2 * j) + 1] = (x1 * c[j]) + (x0 * s[j]);
                }
            }
        }
    }

    /// <summary>
    /// Attention softmax(scale·QKᵀ + mask)·V with grouped key/value heads and a bottom-right aligned causal mask.
    /// Arguments: <see cref="AttentionArgs{T}"/>. Work items are (b, h, query) triples.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attention(nint[] slots, long[] a, long start, long end)
    {
        var args = AttentionArgs.Read(a);
        nint q = slots[args.Q], k = slots[args.K], v = slots[args.V], y = slots[args.Y];
        nint mask = args.Mask < 0 ? 0 : slots[args.Mask];
        var dt = (DType)args.DType;
        var mdt = (DType)args.MaskDType;
        long hq = args.QHeads, hk = args.KvHeads, sq = args.QLength, sk = args.KvLength, d = args.HeadDim, dv = args.ValueDim;
        double scale = BitConverter.Int64BitsToDouble(args.ScaleBits);
        bool causal = args.Causal != 0;
        var scores = new double[sk];
        var acc = new double[dv];
        for (long item = start; item < end; item++)
        {
            long i = item % sq, bh = item / sq, h = bh % hq, b = bh / hq;
            long kvh = (b * hk) + (h / (hq / hk));
            long qo = item * d;
            double mx = double.NegativeInfinity;
            for (long j = 0; j < sk; j++)
            {
                double s;
                if (causal && j > i + (sk - sq))
                {
                    s = double.NegativeInfinity;
                }
                else
                {
                    s = 0;
                    long ko = ((kvh * sk) + j) * d;
                    for (long t = 0; t < d; t++) s += ElementIO.Read(q, dt, qo + t) * ElementIO.Read(k, dt, ko + t);
                    s *= scale;
                    if (mask != 0)
                    {
                        double m = ElementIO.Read(mask, mdt, (item * sk) + j);
                        if (mdt == DType.Bool) s = m != 0 ? s : double.NegativeInfinity;
                        else s += m;
                    }
                }

                scores[j] = s;
                mx = Math.Max(mx, s);
            }

            double sum = 0;
            for (long j = 0; j < sk; j++)
            {
                scores[j] = Math.Exp(scores[j] - mx);
                sum += scores[j];
            }

            Array.Clear(acc);
            for (long j = 0; j < sk; j++)
            {
                double p = scores[j] / sum;
                long vo = ((kvh * sk) + j) * dv;
                for (long t = 0; t < dv; t++) acc[t] += p * ElementIO.Read(v, dt, vo + t);
            }

            for (long t = 0; t < dv; t++) ElementIO.Write(y, dt, (item * dv) + t, acc[t]);
        }
    }
}
