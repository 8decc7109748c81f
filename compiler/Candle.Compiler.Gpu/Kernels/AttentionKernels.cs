using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>Bool storage read as 0/1 (attention masks).</summary>
internal readonly struct BoolStorage : IStorage<byte>
{
    public float Load(ArrayView<byte> view, long i) => view[i] != 0 ? 1f : 0f;

    public void Store(ArrayView<byte> view, long i, float value) => view[i] = value != 0f ? (byte)1 : (byte)0;
}

/// <summary>Scaled dot-product attention and rotary embedding.</summary>
internal static class AttentionKernels
{
    /// <summary>Most elements of a head a thread of an attention group holds (head dims up to 32 · this).</summary>
    public const int PerThread = 8;

    /// <summary>Threads of one attention group (one query row) where the device allows it.</summary>
    public const int GroupSize = 32;

    /// <summary>
    /// One group of <see cref="GroupSize"/> threads per query row (over batch · heads · queries), the head dims split
    /// over the threads: one pass over the keys with an online softmax (running max and sum, the accumulator rescaled),
    /// so prefill and decode over a cache are the same kernel and no score matrix is stored. GQA maps head h to kv head
    /// h / (heads / kvHeads); causal masking is bottom-right aligned; a bool mask keeps true positions, a float mask is added.
    /// </summary>
    public static void Attention<T, TS, TM, TMS, TR>(
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<TM> mask, ArrayView<T> y,
        long qOff, long qB, long qH, long qS, long kOff, long kB, long kH, long kS, long vOff, long vB, long vH, long vS,
        long mOff, long mB, long mH, long mQ, long mK, int heads, int kvHeads, int sq, int sk, int d, int dv, float scale, int causal, int hasMask, int maskIsBool)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TM : unmanaged
        where TMS : struct, IStorage<TM>
        where TR : struct, IGroupReducer
    {
        int row = Grid.IdxX;
        int i = row % sq;
        int bh = row / sq;
        int h = bh % heads;
        int b = bh / heads;
        int hk = h / (heads / kvHeads);
        int t = Group.IdxX, gs = Group.DimX;
        var s = default(TS);
        var qv = LocalMemory.Allocate<float>(PerThread);
        var acc = LocalMemory.Allocate<float>(PerThread);
        long qBase = qOff + (b * qB) + (h * qH) + (i * qS);
        long kBase = kOff + (b * kB) + (hk * kH);
        long vBase = vOff + (b * vB) + (hk * vH);
        for (int u = 0; u < PerThread; u++)
        {
            int dd = t + (u * gs);
            qv[u] = dd < d ? s.Load(q, qBase + dd) * scale : 0f;
            acc[u] = 0f;
        }

        int last = causal != 0 ? Math.Min(sk - 1, i + (sk - sq)) : sk - 1;
        float m = float.NegativeInfinity, l = 0f;
        for (int j = 0; j <= last; j++)
        {
            long kRow = kBase + (j * kS);
            float part = 0f;
            for (int u = 0; u < PerThread; u++)
            {
                int dd = t + (u * gs);
                if (dd < d) part += qv[u] * s.Load(k, kRow + dd);
            }

            float score = default(TR).Sum(part);
            if (hasMask != 0)
            {
                float mv = default(TMS).Load(mask, mOff + (b * mB) + (h * mH) + (i * mQ) + (j * mK));
                if (maskIsBool != 0) score = mv != 0f ? score : float.NegativeInfinity;
                else score += mv;
            }

            if (score == float.NegativeInfinity) continue;
            float mNew = Math.Max(m, score);
            float corr = MathF.Exp(m - mNew);
            float p = MathF.Exp(score - mNew);
            l = (l * corr) + p;
            long vRow = vBase + (j * vS);
            for (int u = 0; u < PerThread; u++)
            {
                int dd = t + (u * gs);
                if (dd < dv) acc[u] = (acc[u] * corr) + (p * s.Load(v, vRow + dd));
            }

            m = mNew;
        }

        float inv = 1f / l;
        long yBase = (long)row * dv;
        for (int u = 0; u < PerThread; u++)
        {
            int dd = t + (u * gs);
            if (dd < dv) s.Store(y, yBase + dd, acc[u] * inv);
        }
    }

    /// <summary>Keys a <see cref="DecodePartial{T, TS, TM, TMS, TR}"/> group scores together (independent loads and reductions in flight).</summary>
    public const int DecodeKeys = 4;

    /// <summary>
    /// The first pass of split-K ("flash decoding") attention for few query rows over a long cache: group g takes query
    /// row g / chunks (over batch · heads · queries) and its keys chunk g % chunks (<paramref name="chunk"/> contiguous
    /// keys), the head dims split over the group's threads as in <see cref="Attention{T, TS, TM, TMS, TR}"/>. Keys are
    /// scored <see cref="DecodeKeys"/> at a time (their loads and group reductions independent) and folded into an online
    /// softmax; the chunk's running max, sum and unnormalized accumulator go to <paramref name="part"/> at
    /// g · (dv + 2): [max, sum, acc[dv]]. Masked keys (bool false, float -inf, beyond the causal limit or the chunk) are
    /// skipped, so a chunk with every key masked leaves max -inf, sum 0 and a zero accumulator, which
    /// <see cref="DecodeCombine{T, TS}"/> ignores. The other arguments are those of <see cref="Attention{T, TS, TM, TMS, TR}"/>.
    /// </summary>
    public static void DecodePartial<T, TS, TM, TMS, TR>(
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<TM> mask, ArrayView<float> part,
        long qOff, long qB, long qH, long qS, long kOff, long kB, long kH, long kS, long vOff, long vB, long vH, long vS,
        long mOff, long mB, long mH, long mQ, long mK, int heads, int kvHeads, int sq, int sk, int d, int dv, float scale, int causal, int hasMask, int maskIsBool,
        int chunk, int chunks)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TM : unmanaged
        where TMS : struct, IStorage<TM>
        where TR : struct, IGroupReducer
    {
        int g = Grid.IdxX;
        int row = g / chunks;
        int c = g % chunks;
        int i = row % sq;
        int bh = row / sq;
        int h = bh % heads;
        int b = bh / heads;
        int hk = h / (heads / kvHeads);
        int t = Group.IdxX, gs = Group.DimX;
        var s = default(TS);
        var qv = LocalMemory.Allocate<float>(PerThread);
        var acc = LocalMemory.Allocate<float>(PerThread);
        var score = LocalMemory.Allocate<float>(DecodeKeys);
        long qBase = qOff + (b * qB) + (h * qH) + (i * qS);
        long kBase = kOff + (b * kB) + (hk * kH);
        long vBase = vOff + (b * vB) + (hk * vH);
        long mBase = mOff + (b * mB) + (h * mH) + (i * mQ);
        for (int u = 0; u < PerThread; u++)
        {
            int dd = t + (u * gs);
            qv[u] = dd < d ? s.Load(q, qBase + dd) * scale : 0f;
            acc[u] = 0f;
        }

        int last = causal != 0 ? Math.Min(sk - 1, i + (sk - sq)) : sk - 1;
        int first = c * chunk;
        int end = Math.Min(last, first + chunk - 1);
        float m = float.NegativeInfinity, l = 0f;
        for (int j0 = first; j0 <= end; j0 += DecodeKeys)
        {
            // Scores of up to DecodeKeys keys: the dot products first (independent loads), then their reductions.
            for (int e = 0; e < DecodeKeys; e++)
            {
                int j = j0 + e;
                float dot = 0f;
                if (j <= end)
                {
                    long kRow = kBase + (j * kS);
                    for (int u = 0; u < PerThread; u++)
                    {
                        int dd = t + (u * gs);
                        if (dd < d) dot += qv[u] * s.Load(k, kRow + dd);
                    }
                }

                score[e] = dot;
            }

            float top = float.NegativeInfinity;
            for (int e = 0; e < DecodeKeys; e++)
            {
                int j = j0 + e;
                float sc = default(TR).Sum(score[e]);
                if (j > end) sc = float.NegativeInfinity;
                else if (hasMask != 0)
                {
                    float mv = default(TMS).Load(mask, mBase + (j * mK));
                    if (maskIsBool != 0) sc = mv != 0f ? sc : float.NegativeInfinity;
                    else sc += mv;
                }

                score[e] = sc;
                top = Math.Max(top, sc);
            }

            if (top == float.NegativeInfinity) continue;
            float mNew = Math.Max(m, top);
            float corr = MathF.Exp(m - mNew);
            l *= corr;
            for (int u = 0; u < PerThread; u++) acc[u] *= corr;
            for (int e = 0; e < DecodeKeys; e++)
            {
                float sc = score[e];
                if (sc == float.NegativeInfinity) continue;
                float p = MathF.Exp(sc - mNew);
                l += p;
                long vRow = vBase + ((j0 + e) * vS);
                for (int u = 0; u < PerThread; u++)
                {
                    int dd = t + (u * gs);
                    if (dd < dv) acc[u] += p * s.Load(v, vRow + dd);
                }
            }

            m = mNew;
        }

        long pBase = (long)g * (dv + 2);
        if (t == 0)
        {
            part[pBase] = m;
            part[pBase + 1] = l;
        }

        for (int u = 0; u < PerThread; u++)
        {
            int dd = t + (u * gs);
            if (dd < dv) part[pBase + 2 + dd] = acc[u];
        }
    }

    /// <summary>
    /// The second pass of split-K decode attention: one group per query row merges the <paramref name="chunks"/>
    /// partials [max, sum, acc[dv]] of <see cref="DecodePartial{T, TS, TM, TMS, TR}"/> (chunks whose max is -inf
    /// contribute nothing) and writes the normalized row of <paramref name="dv"/> elements; a row with every key
    /// masked comes out 0 / 0 as in <see cref="Attention{T, TS, TM, TMS, TR}"/>.
    /// </summary>
    public static void DecodeCombine<T, TS>(ArrayView<float> part, ArrayView<T> y, int chunks, int dv)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        int row = Grid.IdxX;
        long width = dv + 2;
        long rBase = (long)row * chunks * width;
        float top = float.NegativeInfinity;
        for (int c = 0; c < chunks; c++) top = Math.Max(top, part[rBase + (c * width)]);
        float sum = 0f;
        for (int c = 0; c < chunks; c++)
        {
            float mc = part[rBase + (c * width)];
            if (mc != float.NegativeInfinity) sum += part[rBase + (c * width) + 1] * MathF.Exp(mc - top);
        }

        long yBase = (long)row * dv;
        for (int e = Group.IdxX; e < dv; e += Group.DimX)
        {
            float val = 0f;
            for (int c = 0; c < chunks; c++)
            {
                float mc = part[rBase + (c * width)];
                if (mc != float.NegativeInfinity) val += part[rBase + (c * width) + 2 + e] * MathF.Exp(mc - top);
            }

            default(TS).Store(y, yBase + e, val / sum);
        }
    }

    /// <summary>Leading dims of a <see cref="Rope{T, TS}"/> row index (rows collapsed and padded to this many).</summary>
    public const int RopeRank = 3;

    /// <summary>
    /// Rotary embedding of [n0, n1, n2, headDim] rows x (strided: offset, three leading strides and the stride along
    /// the head dim) with cos and sin tables [n0, n1, n2, headDim / 2] (strided likewise; broadcast dims have stride 0)
    /// into a dense output; one thread per pair. n0 is implied by the launch size.
    /// </summary>
    public static void Rope<T, TS>(
        Index1D index, ArrayView<T> x, ArrayView<T> cos, ArrayView<T> sin, ArrayView<T> y, int headDim, int interleaved, long n1, long n2,
        long xOff, long x0s, long x1s, long x2s, long xd,
        long cOff, long c0s, long c1s, long c2s, long cd,
        long sOff, long s0s, long s1s, long s2s, long sd)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        // The rows of RopeRowKernels with a dense output ([n0, n1, n2, headDim] row after row) and no cache row.
        long y2s = headDim, y1s = n2 * headDim, y0s = n1 * n2 * headDim;
        RopeRowKernels.Pair<T, TS>(
            index.X, cos, sin, default, x, y, headDim, interleaved, 1, n1, n2, xOff, x0s, x1s, x2s, xd, cOff, c0s, c1s, c2s, cd,
            sOff, s0s, s1s, s2s, sd, 0, y0s, y1s, y2s, 1, 0, 0, 0, 1, 0, 0);
    }
}
