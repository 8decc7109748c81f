using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Tiled ("flash") attention for prefill and training: a group takes a tile of query rows of one (batch, head), stages
/// the rows and each tile of keys and then of values in shared memory, and keeps an online softmax per row, so keys
/// and values are read once per tile of rows instead of once per row and no score matrix is stored.
/// </summary>
internal static class FlashAttentionKernels
{
    /// <summary>Most query rows of a group's tile.</summary>
    public const int Rows = 32;

    /// <summary>Keys of one shared-memory tile.</summary>
    public const int Keys = 32;

    /// <summary>Largest head dim (of queries and keys, and of values) the kernel takes.</summary>
    public const int MaxDim = 128;

    /// <summary>Most output elements of a row one thread accumulates (a row's threads split its head dims).</summary>
    public const int PerThread = 32;

    /// <summary>Shared row stride of the staged rows (odd, so rows start in different banks).</summary>
    private const int Stride = MaxDim + 1;

    /// <summary>Shared row stride of the score tile.</summary>
    private const int ScoreStride = Keys + 1;

    /// <summary>
    /// Group g takes query rows tile · <paramref name="rowsPerGroup"/> onward (tile = g % tiles) of (batch, head)
    /// g / tiles; <paramref name="threadsPerRow"/> threads share a row (<paramref name="rowsPerGroup"/> ·
    /// <paramref name="threadsPerRow"/> ≤ the group size, rowsPerGroup ≤ <see cref="Rows"/>, dv ≤ threadsPerRow ·
    /// <see cref="PerThread"/>): for each tile of <see cref="Keys"/> keys the row's threads score alternate keys against
    /// the staged query row (scaled), apply the causal limit (bottom-right aligned) and the mask (a bool mask keeps true
    /// positions, a float mask is added), fold the tile into the row's running max and sum, and accumulate the
    /// probabilities times the staged values into their share of the head dims. Key tiles past the tile's last causal
    /// key are skipped. The output is dense [batch, heads, sq, dv]; a row with no visible key comes out 0 / 0, as in
    /// <see cref="AttentionKernels.Attention{T, TS, TM, TMS, TR}"/>, whose other arguments these are (GQA maps head h
    /// to kv head h / (heads / kvHeads)).
    /// </summary>
    public static void Attention<T, TS, TM, TMS>(
        ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<TM> mask, ArrayView<T> y,
        long qOff, long qB, long qH, long qS, long kOff, long kB, long kH, long kS, long vOff, long vB, long vH, long vS,
        long mOff, long mB, long mH, long mQ, long mK, int heads, int kvHeads, int sq, int sk, int d, int dv, float scale, int causal, int hasMask, int maskIsBool,
        int rowsPerGroup, int threadsPerRow)
        where T : unmanaged
        where TS : struct, IStorage<T>
        where TM : unmanaged
        where TMS : struct, IStorage<TM>
    {
        var qs = SharedMemory.Allocate<float>(Rows * Stride);
        var kv = SharedMemory.Allocate<float>(Keys * Stride);
        var ps = SharedMemory.Allocate<float>(Rows * ScoreStride);
        var acc = LocalMemory.Allocate<float>(PerThread);
        var s = default(TS);
        int bq = rowsPerGroup, tpr = threadsPerRow;
        int tiles = (sq + bq - 1) / bq;
        int g = Grid.IdxX;
        int q0 = (g % tiles) * bq;
        int bh = g / tiles;
        int h = bh % heads;
        int b = bh / heads;
        int hk = h / (heads / kvHeads);
        int t = Group.IdxX, gs = Group.DimX;
        int r = t / tpr, lane = t - (r * tpr);
        int i = q0 + r;
        bool active = r < bq && i < sq;
        long qBase = qOff + (b * qB) + (h * qH);
        long kBase = kOff + (b * kB) + (hk * kH);
        long vBase = vOff + (b * vB) + (hk * vH);
        long mBase = mOff + (b * mB) + (h * mH) + (i * mQ);

        // The tile's query rows, scaled, zero past the last row.
        for (int e = t; e < bq * d; e += gs)
        {
            int rr = e / d;
            int dd = e - (rr * d);
            qs[(rr * Stride) + dd] = q0 + rr < sq ? s.Load(q, qBase + ((q0 + rr) * qS) + dd) * scale : 0f;
        }

        for (int u = 0; u < PerThread; u++) acc[u] = 0f;
        int shift = sk - sq;
        int kEnd = causal != 0 ? Math.Min(sk, q0 + bq + shift) : sk;
        int rowLast = causal != 0 ? i + shift : sk - 1;
        float m = float.NegativeInfinity, l = 0f;
        for (int j0 = 0; j0 < kEnd; j0 += Keys)
        {
            int nk = Math.Min(Keys, kEnd - j0);
            Group.Barrier();
            for (int e = t; e < nk * d; e += gs)
            {
                int jj = e / d;
                int dd = e - (jj * d);
                kv[(jj * Stride) + dd] = s.Load(k, kBase + ((j0 + jj) * kS) + dd);
            }

            Group.Barrier();
            if (active)
            {
                for (int jj = lane; jj < nk; jj += tpr)
                {
                    float dot = 0f;
                    for (int dd = 0; dd < d; dd++) dot += qs[(r * Stride) + dd] * kv[(jj * Stride) + dd];
                    int j = j0 + jj;
                    if (j > rowLast) dot = float.NegativeInfinity;
                    else if (hasMask != 0)
                    {
                        float mv = default(TMS).Load(mask, mBase + (j * mK));
                        if (maskIsBool != 0) dot = mv != 0f ? dot : float.NegativeInfinity;
                        else dot += mv;
                    }

                    ps[(r * ScoreStride) + jj] = dot;
                }
            }

            Group.Barrier();
            float top = float.NegativeInfinity;
            if (active)
            {
                for (int jj = 0; jj < nk; jj++) top = Math.Max(top, ps[(r * ScoreStride) + jj]);
            }

            float mNew = Math.Max(m, top);
            float corr = mNew == float.NegativeInfinity ? 1f : MathF.Exp(m - mNew);
            Group.Barrier();
            if (active)
            {
                for (int jj = lane; jj < nk; jj += tpr)
                {
                    float sc = ps[(r * ScoreStride) + jj];
                    ps[(r * ScoreStride) + jj] = sc == float.NegativeInfinity ? 0f : MathF.Exp(sc - mNew);
                }
            }

            for (int e = t; e < nk * dv; e += gs)
            {
                int jj = e / dv;
                int dd = e - (jj * dv);
                kv[(jj * Stride) + dd] = s.Load(v, vBase + ((j0 + jj) * vS) + dd);
            }

            Group.Barrier();
            if (active)
            {
                float sum = 0f;
                for (int jj = 0; jj < nk; jj++) sum += ps[(r * ScoreStride) + jj];
                l = (l * corr) + sum;
                for (int u = 0; u < PerThread; u++)
                {
                    int dd = lane + (u * tpr);
                    if (dd >= dv) break;
                    float a = acc[u] * corr;
                    for (int jj = 0; jj < nk; jj++) a += ps[(r * ScoreStride) + jj] * kv[(jj * Stride) + dd];
                    acc[u] = a;
                }
            }

            m = mNew;
        }

        if (!active) return;
        float inv = 1f / l;
        long yBase = (((((long)b * heads) + h) * sq) + i) * dv;
        for (int u = 0; u < PerThread; u++)
        {
            int dd = lane + (u * tpr);
            if (dd >= dv) break;
            s.Store(y, yBase + dd, acc[u] * inv);
        }
    }
}
