using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Candle.Runtime.Kernels.Cpu.Args;
using Candle.Runtime.Kernels.Cpu.Vectors;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>
/// float32 scaled dot-product attention, flash style: for a block of queries of one head, keys are visited in
/// blocks and the softmax is computed online (running maximum, running sum, rescaled accumulator), so the
/// Sq × Sk score matrix never exists. Grouped-query heads read key/value head <c>h / (Hq / Hk)</c>; causal
/// masking is aligned bottom-right (query i sees key j when j ≤ i + Sk − Sq) and key blocks past the last visible
/// key are skipped; an optional bool mask (keep where true) or additive float mask is read through strides, so
/// broadcast masks are never materialized. A decode step (Sq = 1) is a block of one query. Rows with no visible
/// key are NaN (as the reference's stable softmax gives); with no keys at all the result is 0.
/// Arguments: <see cref="FlashAttentionArgs{T}"/> (q, k and v have unit stride along the head dim; the output is dense [B, Hq, Sq, Dv]).
/// Work items are (batch, head, query block) triples.
/// </summary>
public static unsafe class FlashAttentionKernel
{
    /// <summary>Keys per block.</summary>
    public const int KeyBlock = 64;

    [ThreadStatic]
    private static float[]? t_scratch;

    /// <summary>The kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(nint[] slots, long[] a, long start, long end)
    {
        var p = FlashAttentionArgs.Read(a);
        if (RowKernels.Wide(p.VectorBits)) Run<F32x16, Vector512<float>>(slots, in p, start, end);
        else Run<F32x8, Vector256<float>>(slots, in p, start, end);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TL, TV>(nint[] slots, in FlashAttentionArgs<long> a, long start, long end)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        float* q = (float*)slots[a.Q] + a.QOffset;
        float* k = (float*)slots[a.K] + a.KOffset;
        float* v = (float*)slots[a.V] + a.VOffset;
        byte* mask = a.Mask < 0 ? null : (byte*)slots[a.Mask];
        float* y = (float*)slots[a.Y];
        long hq = a.QHeads, hk = a.KvHeads, sq = a.QLength, sk = a.KvLength, d = a.HeadDim, dv = a.ValueDim;
        float scale = (float)BitConverter.Int64BitsToDouble(a.ScaleBits);
        bool causal = a.Causal != 0, boolMask = a.MaskIsBool != 0;
        long blockQ = Math.Max(1, a.BlockQ);
        long qsB = a.QStrideB, qsH = a.QStrideH, qsS = a.QStrideS, ksB = a.KStrideB, ksH = a.KStrideH, ksS = a.KStrideS;
        long vsB = a.VStrideB, vsH = a.VStrideH, vsS = a.VStrideS;
        long mOff = a.MaskOffset, msB = a.MaskStrideB, msH = a.MaskStrideH, msS = a.MaskStrideS, msK = a.MaskStrideK;
        long blocks = (sq + blockQ - 1) / blockQ;
        long group = hk == 0 ? 1 : hq / hk;
        int rowsMax = (int)Math.Min(blockQ, sq);
        long need = (rowsMax * (2L + KeyBlock + dv)) + KeyBlock;
        var scratch = t_scratch;
        if (scratch is null || scratch.Length < need) t_scratch = scratch = new float[Math.Max(need, 1024)];
        fixed (float* buf = scratch)
        {
            float* mRun = buf, lRun = buf + rowsMax, acc = buf + (2 * rowsMax), s = acc + (rowsMax * dv);
            for (long item = start; item < end; item++)
            {
                long qb = item % blocks, bh = item / blocks, h = bh % hq, b = bh / hq, kvh = h / group;
                long i0 = qb * blockQ, i1 = Math.Min(sq, i0 + blockQ);
                int rows = (int)(i1 - i0);
                float* qh = q + (b * qsB) + (h * qsH);
                float* kh = k + (b * ksB) + (kvh * ksH);
                float* vh = v + (b * vsB) + (kvh * vsH);
                byte* mh = mask == null ? null : mask + ((mOff + (b * msB) + (h * msH)) * (boolMask ? 1 : sizeof(float)));
                float* yh = y + ((((b * hq) + h) * sq) + i0) * dv;
                long kEnd = causal ? Math.Clamp(i1 - 1 + (sk - sq) + 1, 0, sk) : sk;
                for (int r = 0; r < rows; r++)
                {
                    mRun[r] = float.NegativeInfinity;
                    lRun[r] = 0;
                }

                new Span<float>(acc, (int)(rows * dv)).Clear();
                for (long j0 = 0; j0 < kEnd; j0 += KeyBlock)
                {
                    long j1 = Math.Min(kEnd, j0 + KeyBlock);
                    for (int r = 0; r < rows; r++)
                    {
                        long i = i0 + r;
                        long limit = causal ? Math.Min(j1, i + (sk - sq) + 1) : j1;
                        if (limit <= j0) continue;
                        int cnt = (int)(limit - j0);
                        float* qi = qh + (i * qsS);
                        float blockMax = float.NegativeInfinity;
                        for (int t = 0; t < cnt; t++)
                        {
                            long j = j0 + t;
                            float sc = Dot<TL, TV>(qi, kh + (j * ksS), d) * scale;
                            if (mh != null)
                            {
                                long mo = (i * msS) + (j * msK);
                                if (boolMask)
                                {
                                    if (mh[mo] == 0) sc = float.NegativeInfinity;
                                }
                                else
                                {
                                    sc += ((float*)mh)[mo];
                                }
                            }

                            s[t] = sc;
                            blockMax = float.IsNaN(sc) || float.IsNaN(blockMax) ? float.NaN : Math.Max(blockMax, sc);
                        }

                        float mOld = mRun[r];
                        float mNew = float.IsNaN(blockMax) || float.IsNaN(mOld) ? float.NaN : Math.Max(mOld, blockMax);
                        if (float.IsNegativeInfinity(mNew)) continue;
                        float* accRow = acc + (r * dv);
                        float alpha = float.IsNegativeInfinity(mOld) ? 0 : FastExp.Exp(mOld - mNew);
                        float l = lRun[r] * alpha;
                        if (alpha != 1) Scale<TL, TV>(accRow, alpha, dv);
                        l += RowMath.ExpShifted<TL, TV>(s, s, cnt, mNew);
                        for (int t = 0; t < cnt; t++)
                        {
                            float p = s[t];
                            if (p != 0) Axpy<TL, TV>(p, vh + ((j0 + t) * vsS), accRow, dv);
                        }

                        lRun[r] = l;
                        mRun[r] = mNew;
                    }
                }

                for (int r = 0; r < rows; r++)
                {
                    float* yr = yh + (r * dv);
                    float* accRow = acc + (r * dv);
                    if (sk == 0)
                    {
                        new Span<float>(yr, (int)dv).Clear();
                    }
                    else if (float.IsNegativeInfinity(mRun[r]) || float.IsNaN(mRun[r]))
                    {
                        new Span<float>(yr, (int)dv).Fill(float.NaN);
                    }
                    else
                    {
                        RowMath.ScaleShift<TL, TV>(accRow, yr, dv, 1 / lRun[r], 0);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot<TL, TV>(float* x, float* z, long n)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long t = 0;
        var acc = TL.Zero;
        var acc2 = TL.Zero;
        for (; t + (2 * w) <= n; t += 2 * w)
        {
            acc = TL.Fma(TL.Load(x + t), TL.Load(z + t), acc);
            acc2 = TL.Fma(TL.Load(x + t + w), TL.Load(z + t + w), acc2);
        }

        for (; t + w <= n; t += w) acc = TL.Fma(TL.Load(x + t), TL.Load(z + t), acc);
        float s = TL.Sum(TL.Add(acc, acc2));
        for (; t < n; t++) s = MathF.FusedMultiplyAdd(x[t], z[t], s);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy<TL, TV>(float alpha, float* x, float* acc, long n)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long t = 0;
        var va = TL.Splat(alpha);
        for (; t + w <= n; t += w) TL.Store(TL.Fma(va, TL.Load(x + t), TL.Load(acc + t)), acc + t);
        for (; t < n; t++) acc[t] = MathF.FusedMultiplyAdd(alpha, x[t], acc[t]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale<TL, TV>(float* x, float alpha, long n)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long t = 0;
        var va = TL.Splat(alpha);
        for (; t + w <= n; t += w) TL.Store(TL.Mul(TL.Load(x + t), va), x + t);
        for (; t < n; t++) x[t] *= alpha;
    }
}
