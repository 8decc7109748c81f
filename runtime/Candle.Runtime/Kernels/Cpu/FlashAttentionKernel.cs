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
/// key are NaN (as the reference's stable softmax gives); with no keys at all the result is 0. Without a mask, with
/// head dims of whole vectors and at least 16 queries, each key block is transposed once per call and worker to
/// [dim][<see cref="KeyBlock"/> keys] (scores as vector multiply-adds over the dims); otherwise scores are per-key dot products.
/// Arguments: <see cref="FlashAttentionArgs{T}"/> (q, k and v have unit stride along the head dim; the output is dense [B, Hq, Sq, Dv]).
/// Work items are (batch, head, query block) triples.
/// </summary>
public static unsafe class FlashAttentionKernel
{
    /// <summary>Keys per block.</summary>
    public const int KeyBlock = 64;

    /// <summary>Queries from which the transposed keys pay for their transposition (shorter runs, decode steps among them, take per-key dot products).</summary>
    private const long MinTransposedQueries = 16;

    /// <summary>The most floats of transposed keys (one key/value head's, <see cref="KeyBlock"/> keys per block) a worker keeps: 16 MiB.</summary>
    private const long MaxTransposedKeys = 1L << 22;

    /// <summary>
    /// True (the default) to run unmasked attention with whole-vector head dims on transposed key blocks; false for the
    /// per-key dot products it replaces, kept for side-by-side timings (<c>attention-timing</c>).
    /// </summary>
    internal static bool TransposeKeyBlocks { get; set; } = true;

    [ThreadStatic]
    private static float[]? t_scratch;

    [ThreadStatic]
    private static float[]? t_keys;

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
        long keyBlocks = (sk + KeyBlock - 1) / KeyBlock;
        if (TransposeKeyBlocks && sq >= MinTransposedQueries && mask == null && d % TL.Count == 0 && dv % TL.Count == 0 && keyBlocks * d * KeyBlock <= MaxTransposedKeys)
        {
            RunTransposedKeys<TL, TV>(q, k, v, y, in a, start, end);
            return;
        }

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

    /// <summary>
    /// The unmasked path for head dims that are whole vectors: each key block of the item's key/value head is transposed
    /// once per call and worker (kept while consecutive items read the same head: the query blocks of a head, then the
    /// heads of a group) to [dim][<see cref="KeyBlock"/> keys], so a query row's scores are vector multiply-adds over the
    /// dims with no horizontal sums, and the row's output accumulates over the block's keys in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTransposedKeys<TL, TV>(float* q, float* k, float* v, float* y, in FlashAttentionArgs<long> a, long start, long end)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        long hq = a.QHeads, hk = a.KvHeads, sq = a.QLength, sk = a.KvLength, d = a.HeadDim, dv = a.ValueDim;
        float scale = (float)BitConverter.Int64BitsToDouble(a.ScaleBits);
        bool causal = a.Causal != 0;
        long blockQ = Math.Max(1, a.BlockQ);
        long qsB = a.QStrideB, qsH = a.QStrideH, qsS = a.QStrideS, ksB = a.KStrideB, ksH = a.KStrideH, ksS = a.KStrideS;
        long vsB = a.VStrideB, vsH = a.VStrideH, vsS = a.VStrideS;
        long blocks = (sq + blockQ - 1) / blockQ;
        long group = hk == 0 ? 1 : hq / hk;
        int rowsMax = (int)Math.Min(blockQ, sq);
        long need = (rowsMax * (2L + KeyBlock + dv)) + KeyBlock;
        long keyBlocks = (sk + KeyBlock - 1) / KeyBlock;
        var scratch = t_scratch;
        if (scratch is null || scratch.Length < need) t_scratch = scratch = new float[Math.Max(need, 1024)];
        var keys = t_keys;
        long keyFloats = Math.Max(1, keyBlocks * d * KeyBlock);
        if (keys is null || keys.Length < keyFloats) t_keys = keys = new float[keyFloats];
        fixed (float* buf = scratch)
        fixed (float* kt = keys)
        {
            float* mRun = buf, lRun = buf + rowsMax, acc = buf + (2 * rowsMax), s = acc + (rowsMax * dv);
            long heldB = -1, heldHead = -1;
            long held = 0;
            for (long item = start; item < end; item++)
            {
                long qb = item % blocks, bh = item / blocks, h = bh % hq, b = bh / hq, kvh = h / group;
                long i0 = qb * blockQ, i1 = Math.Min(sq, i0 + blockQ);
                int rows = (int)(i1 - i0);
                float* qh = q + (b * qsB) + (h * qsH);
                float* kh = k + (b * ksB) + (kvh * ksH);
                float* vh = v + (b * vsB) + (kvh * vsH);
                float* yh = y + ((((b * hq) + h) * sq) + i0) * dv;
                long kEnd = causal ? Math.Clamp(i1 - 1 + (sk - sq) + 1, 0, sk) : sk;
                if (b != heldB || kvh != heldHead)
                {
                    heldB = b;
                    heldHead = kvh;
                    held = 0;
                }

                for (int r = 0; r < rows; r++)
                {
                    mRun[r] = float.NegativeInfinity;
                    lRun[r] = 0;
                }

                new Span<float>(acc, (int)(rows * dv)).Clear();
                for (long j0 = 0; j0 < kEnd; j0 += KeyBlock)
                {
                    long jb = j0 / KeyBlock;
                    for (; held <= jb; held++) TransposeKeys(kh, ksS, d, held * KeyBlock, Math.Min(KeyBlock, sk - (held * KeyBlock)), kt + (held * d * KeyBlock));
                    float* ktb = kt + (jb * d * KeyBlock);
                    long j1 = Math.Min(kEnd, j0 + KeyBlock);
                    for (int r = 0; r < rows; r++)
                    {
                        long i = i0 + r;
                        long limit = causal ? Math.Min(j1, i + (sk - sq) + 1) : j1;
                        if (limit <= j0) continue;
                        int cnt = (int)(limit - j0);
                        Scores<TL, TV>(qh + (i * qsS), ktb, d, cnt, scale, s);
                        float blockMax = BlockMax<TL, TV>(s, cnt);

                        float mOld = mRun[r];
                        float mNew = float.IsNaN(blockMax) || float.IsNaN(mOld) ? float.NaN : Math.Max(mOld, blockMax);
                        if (float.IsNegativeInfinity(mNew)) continue;
                        float* accRow = acc + (r * dv);
                        float alpha = float.IsNegativeInfinity(mOld) ? 0 : FastExp.Exp(mOld - mNew);
                        float l = lRun[r] * alpha;
                        if (alpha != 1) Scale<TL, TV>(accRow, alpha, dv);
                        l += RowMath.ExpShifted<TL, TV>(s, s, cnt, mNew);
                        Accumulate<TL, TV>(s, cnt, vh + (j0 * vsS), vsS, accRow, dv);
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

    /// <summary>The largest of s[0..count), NaN when any is NaN, −∞ for none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float BlockMax<TL, TV>(float* s, int count)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count, t = 0;
        float m = float.NegativeInfinity;
        if (count >= w)
        {
            var mv = TL.Splat(float.NegativeInfinity);
            for (; t + w <= count; t += w)
            {
                var x = TL.Load(s + t);
                if (TL.Any(TL.IsNaN(x))) return float.NaN;
                mv = TL.MaxNative(mv, x);
            }

            m = TL.Max(mv);
        }

        for (; t < count; t++)
        {
            float sc = s[t];
            m = float.IsNaN(sc) || float.IsNaN(m) ? float.NaN : Math.Max(m, sc);
        }

        return m;
    }

    /// <summary>Keys j0..j0 + count − 1 of a head (rows <paramref name="ksS"/> apart) as [d][<see cref="KeyBlock"/>] at <paramref name="to"/>, the missing keys zero.</summary>
    private static void TransposeKeys(float* kh, long ksS, long d, long j0, long count, float* to)
    {
        for (long j = 0; j < KeyBlock; j++)
        {
            if (j < count)
            {
                float* row = kh + ((j0 + j) * ksS);
                for (long t = 0; t < d; t++) to[(t * KeyBlock) + j] = row[t];
            }
            else
            {
                for (long t = 0; t < d; t++) to[(t * KeyBlock) + j] = 0;
            }
        }
    }

    /// <summary>s[j] = scale · Σ_t qi[t]·k_j[t] for the first <paramref name="count"/> keys of a transposed block (and up to the next multiple of 2 vectors, which are not read), 4 or 2 vectors of keys at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores<TL, TV>(float* qi, float* kt, long d, int count, float scale, float* s)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        var vs = TL.Splat(scale);
        for (int j = 0; j < count; j += 4 * w)
        {
            float* kj = kt + j;
            var a0 = TL.Zero;
            var a1 = TL.Zero;
            var a2 = TL.Zero;
            var a3 = TL.Zero;
            if (count - j > 2 * w)
            {
                for (long t = 0; t < d; t++, kj += KeyBlock)
                {
                    var x = TL.Splat(qi[t]);
                    a0 = TL.Fma(x, TL.Load(kj), a0);
                    a1 = TL.Fma(x, TL.Load(kj + w), a1);
                    a2 = TL.Fma(x, TL.Load(kj + (2 * w)), a2);
                    a3 = TL.Fma(x, TL.Load(kj + (3 * w)), a3);
                }

                TL.Store(TL.Mul(a2, vs), s + j + (2 * w));
                TL.Store(TL.Mul(a3, vs), s + j + (3 * w));
            }
            else
            {
                for (long t = 0; t < d; t++, kj += KeyBlock)
                {
                    var x = TL.Splat(qi[t]);
                    a0 = TL.Fma(x, TL.Load(kj), a0);
                    a1 = TL.Fma(x, TL.Load(kj + w), a1);
                }
            }

            TL.Store(TL.Mul(a0, vs), s + j);
            TL.Store(TL.Mul(a1, vs), s + j + w);
        }
    }

    /// <summary>
    /// accRow += Σ_t p[t]·v_t over the block's <paramref name="count"/> keys (those with p ≠ 0), in key order as
    /// <see cref="Axpy{TL, TV}"/> adds them, up to 4 vectors of the row held in registers over the keys.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TL, TV>(float* p, int count, float* v, long vsS, float* accRow, long dv)
        where TL : IF32Vector<TV>
        where TV : struct
    {
        int w = TL.Count;
        long c = 0;
        for (; c + (4 * w) <= dv; c += 4 * w)
        {
            float* o = accRow + c;
            var a0 = TL.Load(o);
            var a1 = TL.Load(o + w);
            var a2 = TL.Load(o + (2 * w));
            var a3 = TL.Load(o + (3 * w));
            float* vt = v + c;
            for (int t = 0; t < count; t++, vt += vsS)
            {
                float pt = p[t];
                if (pt == 0) continue;
                var x = TL.Splat(pt);
                a0 = TL.Fma(x, TL.Load(vt), a0);
                a1 = TL.Fma(x, TL.Load(vt + w), a1);
                a2 = TL.Fma(x, TL.Load(vt + (2 * w)), a2);
                a3 = TL.Fma(x, TL.Load(vt + (3 * w)), a3);
            }

            TL.Store(a0, o);
            TL.Store(a1, o + w);
            TL.Store(a2, o + (2 * w));
            TL.Store(a3, o + (3 * w));
        }

        for (; c < dv; c += w)
        {
            float* o = accRow + c;
            var a0 = TL.Load(o);
            float* vt = v + c;
            for (int t = 0; t < count; t++, vt += vsS)
            {
                float pt = p[t];
                if (pt != 0) a0 = TL.Fma(TL.Splat(pt), TL.Load(vt), a0);
            }

            TL.Store(a0, o);
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
