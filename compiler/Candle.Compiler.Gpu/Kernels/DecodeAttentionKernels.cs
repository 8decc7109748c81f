using ILGPU;

namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Split-K decode attention ("flash decoding") with the keys spread over a warp's lanes: each lane scores its own key
/// against the query held in shared memory (whole key rows read 16 bytes a load), so a warp scores a warp's width of
/// keys with one max and one sum reduction, and the probability-weighted values are accumulated by lanes that each own
/// one 16-byte slice of the value row.
/// </summary>
internal static class DecodeAttentionKernels
{
    /// <summary>Largest head dim (of queries/keys and of values) the kernels take.</summary>
    public const int MaxHeadDim = 256;

    /// <summary>Value quads a lane loads ahead of the key reads when the kernels are asked to (their <c>early</c> argument).</summary>
    public const int EarlyValues = 8;

    /// <summary>Most key chunks per query row (<see cref="Merge{T, TS}"/> keeps one weight per chunk in shared memory).</summary>
    public const int MaxChunks = 256;

    /// <summary>
    /// Whether the kernels take value rows of <paramref name="valueQuads"/> quads on a warp of <paramref name="warp"/>
    /// lanes: one quad per lane with several key groups (the quads divide the warp), or two quads per lane.
    /// </summary>
    public static bool Fits(int valueQuads, int warp) =>
        valueQuads > 0 && (valueQuads <= warp ? warp % valueQuads == 0 : valueQuads == 2 * warp);

    /// <summary>
    /// The first pass: group g (one warp) takes query row g / chunks (over batch · heads · queries) and keys
    /// [c · chunk, c · chunk + chunk) of it, c = g % chunks, clipped to the causal limit (bottom-right aligned). q, k and
    /// v are viewed as quads: offsets and the three leading strides are in quads, the head dims
    /// <paramref name="d"/> and <paramref name="dv"/> in elements (multiples of the quad's elements); GQA maps head h to
    /// kv head h / (heads / kvHeads). A bool mask keeps true positions (masked keys are not read), a float mask is added.
    /// The chunk's running max, sum and unnormalized accumulator go to <paramref name="part"/> at g · (dv + 2):
    /// [max, sum, acc[dv]]; a chunk with no unmasked key leaves max -inf, sum 0 and zeros. With <paramref name="early"/>
    /// 1, each lane issues the loads of its first <see cref="EarlyValues"/> value quads of a warp's keys before it reads
    /// the keys, so the value reads wait behind the key reads instead of after the scores (values of masked keys are
    /// read but never used: only keys up to the causal limit are touched).
    /// </summary>
    public static void Chunks<TQ, TM, TMS>(
        ArrayView<Quad> q, ArrayView<Quad> k, ArrayView<Quad> v, ArrayView<TM> mask, ArrayView<float> part,
        long qOff, long qB, long qH, long qS, long kOff, long kB, long kH, long kS, long vOff, long vB, long vH, long vS,
        long mOff, long mB, long mH, long mQ, long mK, int heads, int kvHeads, int sq, int sk, int d, int dv, float scale,
        int causal, int hasMask, int maskIsBool, int chunk, int chunks, int early)
        where TQ : struct, IQuadFloats
        where TM : unmanaged
        where TMS : struct, IStorage<TM>
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        Partial<TQ, TM, TMS>(
            q, k, v, mask, part, qs, qOff, qB, qH, qS, kOff, kB, kH, kS, vOff, vB, vH, vS, mOff, mB, mH, mQ, mK,
            heads, kvHeads, sq, sk, d, dv, scale, causal, hasMask, maskIsBool, chunk, chunks, early);
    }

    /// <summary>
    /// Split-K decode attention in one launch: every group computes its chunk's partial as
    /// <see cref="Chunks{TQ, TM, TMS}"/> does, makes it visible device-wide (a memory fence) and takes a ticket from its
    /// query row's counter (<paramref name="counters"/>[row], an atomic increment); the group that takes the last
    /// ticket merges the row's partials as <see cref="Merge{T, TS}"/> does and sets the counter back to zero, so the
    /// counters are zero again after every launch (and every replay of a recorded CUDA graph). The counters must be zero
    /// before the first launch. The other arguments are those of <see cref="Chunks{TQ, TM, TMS}"/>.
    /// </summary>
    public static void ChunksMerged<TQ, TM, TMS, T, TS>(
        ArrayView<Quad> q, ArrayView<Quad> k, ArrayView<Quad> v, ArrayView<TM> mask, ArrayView<float> part, ArrayView<int> counters, ArrayView<T> y,
        long qOff, long qB, long qH, long qS, long kOff, long kB, long kH, long kS, long vOff, long vB, long vH, long vS,
        long mOff, long mB, long mH, long mQ, long mK, int heads, int kvHeads, int sq, int sk, int d, int dv, float scale,
        int causal, int hasMask, int maskIsBool, int chunk, int chunks, int early)
        where TQ : struct, IQuadFloats
        where TM : unmanaged
        where TMS : struct, IStorage<TM>
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var weight = SharedMemory.Allocate<float>(MaxChunks);
        Partial<TQ, TM, TMS>(
            q, k, v, mask, part, qs, qOff, qB, qH, qS, kOff, kB, kH, kS, vOff, vB, vH, vS, mOff, mB, mH, mQ, mK,
            heads, kvHeads, sq, sk, d, dv, scale, causal, hasMask, maskIsBool, chunk, chunks, early);

        // Every lane's partial is written before the ticket is taken; the last group sees all of them.
        MemoryFence.DeviceLevel();
        Group.Barrier();
        int row = Grid.IdxX / chunks;
        int ticket = 0;
        if (Warp.LaneIdx == 0) ticket = Atomic.Add(ref counters[row], 1);
        ticket = Warp.Shuffle(ticket, 0);
        if (ticket != chunks - 1) return;
        MemoryFence.DeviceLevel();
        MergeRow<T, TS>(part, y, weight, row, chunks, dv);
        if (Warp.LaneIdx == 0) counters[row] = 0;
    }

    /// <summary>The chunk partial of group <c>Grid.IdxX</c> (<see cref="Chunks{TQ, TM, TMS}"/>), the scaled query staged in <paramref name="qs"/>.</summary>
    private static void Partial<TQ, TM, TMS>(
        ArrayView<Quad> q, ArrayView<Quad> k, ArrayView<Quad> v, ArrayView<TM> mask, ArrayView<float> part, ArrayView<float> qs,
        long qOff, long qB, long qH, long qS, long kOff, long kB, long kH, long kS, long vOff, long vB, long vH, long vS,
        long mOff, long mB, long mH, long mQ, long mK, int heads, int kvHeads, int sq, int sk, int d, int dv, float scale,
        int causal, int hasMask, int maskIsBool, int chunk, int chunks, int early)
        where TQ : struct, IQuadFloats
        where TM : unmanaged
        where TMS : struct, IStorage<TM>
    {
        int g = Grid.IdxX;
        int row = g / chunks;
        int c = g - (row * chunks);
        int i = row % sq;
        int bh = row / sq;
        int h = bh % heads;
        int b = bh / heads;
        int hk = h / (heads / kvHeads);
        int lane = Warp.LaneIdx;
        int width = Warp.WarpSize;
        var tq = default(TQ);
        int pq = tq.PerQuad;
        int dq = d / pq;
        int vq = dv / pq;

        long qBase = qOff + (b * qB) + (h * qH) + (i * qS);
        for (int u = lane; u < dq; u += width) Put(qs, u * pq, tq.Widen(q[qBase + u]), pq, scale);
        Group.Barrier();

        long kBase = kOff + (b * kB) + (hk * kH);
        long vBase = vOff + (b * vB) + (hk * vH);
        long mBase = mOff + (b * mB) + (h * mH) + (i * mQ);
        int last = causal != 0 ? Math.Min(sk - 1, i + (sk - sq)) : sk - 1;
        int first = c * chunk;
        int end = Math.Min(last, first + chunk - 1);

        // Lane (kg, qd) accumulates value quad qd (and qd + width when a row is two quads a lane) of the keys of key group kg.
        bool two = vq > width;
        int groupsK = two ? 1 : width / vq;
        int kg = two ? 0 : lane / vq;
        int qd = two ? lane : lane - (kg * vq);
        int perGroup = width / groupsK;
        var a0 = default(Oct);
        var a1 = default(Oct);
        float m = float.NegativeInfinity, l = 0f;
        for (int j0 = first; j0 <= end; j0 += width)
        {
            int j = j0 + lane;

            // The early value quads: key kg + t · groupsK of this warp's keys, for t below the early count.
            int pre = early != 0 && !two ? Math.Min(perGroup, EarlyValues) : 0;
            int room = end - j0 - kg;
            long vAt = vBase + ((j0 + kg) * vS) + qd;
            long vStep = groupsK * vS;
            var e0 = default(Quad);
            var e1 = default(Quad);
            var e2 = default(Quad);
            var e3 = default(Quad);
            var e4 = default(Quad);
            var e5 = default(Quad);
            var e6 = default(Quad);
            var e7 = default(Quad);
            if (pre > 0 && room >= 0) e0 = v[vAt];
            if (pre > 1 && room >= groupsK) e1 = v[vAt + vStep];
            if (pre > 2 && room >= 2 * groupsK) e2 = v[vAt + (2 * vStep)];
            if (pre > 3 && room >= 3 * groupsK) e3 = v[vAt + (3 * vStep)];
            if (pre > 4 && room >= 4 * groupsK) e4 = v[vAt + (4 * vStep)];
            if (pre > 5 && room >= 5 * groupsK) e5 = v[vAt + (5 * vStep)];
            if (pre > 6 && room >= 6 * groupsK) e6 = v[vAt + (6 * vStep)];
            if (pre > 7 && room >= 7 * groupsK) e7 = v[vAt + (7 * vStep)];
            float s = float.NegativeInfinity;
            if (j <= end)
            {
                float mv = 0f;
                bool keep = true;
                if (hasMask != 0)
                {
                    mv = default(TMS).Load(mask, mBase + (j * mK));
                    if (maskIsBool != 0)
                    {
                        keep = mv != 0f;
                        mv = 0f;
                    }
                }

                if (keep) s = KeyDot(k, kBase + (j * kS), qs, dq, pq, tq) + mv;
            }

            float top = Max(s);
            if (top == float.NegativeInfinity) continue;
            float mNew = Math.Max(m, top);
            float corr = MathF.Exp(m - mNew);
            float p = s == float.NegativeInfinity ? 0f : MathF.Exp(s - mNew);
            l = (l * corr) + Sum(p);
            a0 = Scale(a0, corr);
            a1 = Scale(a1, corr);
            m = mNew;
            if (pre > 0)
            {
                a0 = Accumulate(a0, e0, p, kg, tq);
                if (pre > 1) a0 = Accumulate(a0, e1, p, kg + groupsK, tq);
                if (pre > 2) a0 = Accumulate(a0, e2, p, kg + (2 * groupsK), tq);
                if (pre > 3) a0 = Accumulate(a0, e3, p, kg + (3 * groupsK), tq);
                if (pre > 4) a0 = Accumulate(a0, e4, p, kg + (4 * groupsK), tq);
                if (pre > 5) a0 = Accumulate(a0, e5, p, kg + (5 * groupsK), tq);
                if (pre > 6) a0 = Accumulate(a0, e6, p, kg + (6 * groupsK), tq);
                if (pre > 7) a0 = Accumulate(a0, e7, p, kg + (7 * groupsK), tq);
            }

            for (int t = pre; t < perGroup; t += 2)
            {
                // Two keys per step: both probabilities broadcast first, then both value loads in flight.
                int s0 = kg + (t * groupsK);
                int s1 = s0 + groupsK;
                float p0 = Warp.Shuffle(p, s0);
                float p1 = Warp.Shuffle(p, s1 < width ? s1 : s0);
                if (s1 >= width) p1 = 0f;
                var x0 = default(Quad);
                var x1 = default(Quad);
                var y0 = default(Quad);
                var y1 = default(Quad);
                long r0 = vBase + ((j0 + s0) * vS) + qd;
                long r1 = vBase + ((j0 + s1) * vS) + qd;
                if (p0 != 0f)
                {
                    x0 = v[r0];
                    if (two) y0 = v[r0 + width];
                }

                if (p1 != 0f)
                {
                    x1 = v[r1];
                    if (two) y1 = v[r1 + width];
                }

                if (p0 != 0f)
                {
                    a0 = Axpy(a0, p0, tq.Widen(x0));
                    if (two) a1 = Axpy(a1, p0, tq.Widen(y0));
                }

                if (p1 != 0f)
                {
                    a0 = Axpy(a0, p1, tq.Widen(x1));
                    if (two) a1 = Axpy(a1, p1, tq.Widen(y1));
                }
            }
        }

        // The key groups' accumulators of one value quad are summed across the lanes that hold them.
        for (int o = vq; o < width; o <<= 1) a0 = AddXor(a0, o);
        long pBase = (long)g * (dv + 2);
        if (lane == 0)
        {
            part[pBase] = m;
            part[pBase + 1] = l;
        }

        if (kg == 0)
        {
            Write(part, pBase + 2 + (qd * pq), a0, pq);
            if (two) Write(part, pBase + 2 + ((qd + width) * pq), a1, pq);
        }
    }

    /// <summary>
    /// The second pass: group r (one warp) merges the <paramref name="chunks"/> partials [max, sum, acc[dv]] of query
    /// row r written by <see cref="Chunks{TQ, TM, TMS}"/> (chunks whose max is -inf contribute nothing) and writes the
    /// normalized row of <paramref name="dv"/> elements; a row with every key masked comes out 0 / 0.
    /// </summary>
    public static void Merge<T, TS>(ArrayView<float> part, ArrayView<T> y, int chunks, int dv)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        var weight = SharedMemory.Allocate<float>(MaxChunks);
        MergeRow<T, TS>(part, y, weight, Grid.IdxX, chunks, dv);
    }

    /// <summary>Merges query row <paramref name="row"/>'s partials into its output row (<see cref="Merge{T, TS}"/>), the chunk weights kept in <paramref name="weight"/>.</summary>
    private static void MergeRow<T, TS>(ArrayView<float> part, ArrayView<T> y, ArrayView<float> weight, int row, int chunks, int dv)
        where T : unmanaged
        where TS : struct, IStorage<T>
    {
        int lane = Warp.LaneIdx;
        int width = Warp.WarpSize;
        long stride = dv + 2;
        long rBase = (long)row * chunks * stride;
        float top = float.NegativeInfinity;
        for (int c = lane; c < chunks; c += width) top = Math.Max(top, part[rBase + (c * stride)]);
        top = Max(top);
        float sum = 0f;
        for (int c = lane; c < chunks; c += width)
        {
            float mc = part[rBase + (c * stride)];
            float e = mc == float.NegativeInfinity ? 0f : MathF.Exp(mc - top);
            weight[c] = e;
            sum += part[rBase + (c * stride) + 1] * e;
        }

        sum = Sum(sum);
        Group.Barrier();
        long yBase = (long)row * dv;
        for (int e = lane; e < dv; e += width)
        {
            long at = rBase + 2 + e;
            float v0 = 0f, v1 = 0f, v2 = 0f, v3 = 0f;
            int c = 0;
            for (; c + 4 <= chunks; c += 4)
            {
                v0 += part[at + (c * stride)] * weight[c];
                v1 += part[at + ((c + 1) * stride)] * weight[c + 1];
                v2 += part[at + ((c + 2) * stride)] * weight[c + 2];
                v3 += part[at + ((c + 3) * stride)] * weight[c + 3];
            }

            for (; c < chunks; c++) v0 += part[at + (c * stride)] * weight[c];
            default(TS).Store(y, yBase + e, (v0 + v1 + (v2 + v3)) / sum);
        }
    }

    /// <summary>A key row's dot product with the query in shared memory, four quads in flight at a time.</summary>
    private static float KeyDot<TQ>(ArrayView<Quad> k, long row, ArrayView<float> qs, int dq, int pq, TQ tq)
        where TQ : struct, IQuadFloats
    {
        float dot0 = 0f, dot1 = 0f;
        int u = 0;
        for (; u + 4 <= dq; u += 4)
        {
            var k0 = k[row + u];
            var k1 = k[row + u + 1];
            var k2 = k[row + u + 2];
            var k3 = k[row + u + 3];
            dot0 += Dot(tq.Widen(k0), qs, u * pq, pq) + Dot(tq.Widen(k1), qs, (u + 1) * pq, pq);
            dot1 += Dot(tq.Widen(k2), qs, (u + 2) * pq, pq) + Dot(tq.Widen(k3), qs, (u + 3) * pq, pq);
        }

        for (; u < dq; u++) dot0 += Dot(tq.Widen(k[row + u]), qs, u * pq, pq);
        return dot0 + dot1;
    }

    /// <summary>Adds key <paramref name="key"/>'s probability (lane <paramref name="key"/>'s <paramref name="p"/>) times its value quad <paramref name="x"/>; a zero probability adds nothing, so a masked key's value is never used.</summary>
    private static Oct Accumulate<TQ>(Oct a, Quad x, float p, int key, TQ tq)
        where TQ : struct, IQuadFloats
    {
        float pk = Warp.Shuffle(p, key);
        return pk != 0f ? Axpy(a, pk, tq.Widen(x)) : a;
    }

    private static float Dot(Oct o, ArrayView<float> qs, int at, int pq)
    {
        float s = (o.A * qs[at]) + (o.B * qs[at + 1]) + (o.C * qs[at + 2]) + (o.D * qs[at + 3]);
        if (pq == 8) s += (o.E * qs[at + 4]) + (o.F * qs[at + 5]) + (o.G * qs[at + 6]) + (o.H * qs[at + 7]);
        return s;
    }

    private static void Put(ArrayView<float> qs, int at, Oct o, int pq, float scale)
    {
        qs[at] = o.A * scale;
        qs[at + 1] = o.B * scale;
        qs[at + 2] = o.C * scale;
        qs[at + 3] = o.D * scale;
        if (pq == 8)
        {
            qs[at + 4] = o.E * scale;
            qs[at + 5] = o.F * scale;
            qs[at + 6] = o.G * scale;
            qs[at + 7] = o.H * scale;
        }
    }

    private static void Write(ArrayView<float> part, long at, Oct o, int pq)
    {
        part[at] = o.A;
        part[at + 1] = o.B;
        part[at + 2] = o.C;
        part[at + 3] = o.D;
        if (pq == 8)
        {
            part[at + 4] = o.E;
            part[at + 5] = o.F;
            part[at + 6] = o.G;
            part[at + 7] = o.H;
        }
    }

    private static Oct Scale(Oct a, float f) => new()
    {
        A = a.A * f, B = a.B * f, C = a.C * f, D = a.D * f, E = a.E * f, F = a.F * f, G = a.G * f, H = a.H * f,
    };

    private static Oct Axpy(Oct a, float p, Oct x) => new()
    {
        A = a.A + (p * x.A), B = a.B + (p * x.B), C = a.C + (p * x.C), D = a.D + (p * x.D),
        E = a.E + (p * x.E), F = a.F + (p * x.F), G = a.G + (p * x.G), H = a.H + (p * x.H),
    };

    private static Oct AddXor(Oct a, int o) => new()
    {
        A = a.A + Warp.ShuffleXor(a.A, o), B = a.B + Warp.ShuffleXor(a.B, o), C = a.C + Warp.ShuffleXor(a.C, o), D = a.D + Warp.ShuffleXor(a.D, o),
        E = a.E + Warp.ShuffleXor(a.E, o), F = a.F + Warp.ShuffleXor(a.F, o), G = a.G + Warp.ShuffleXor(a.G, o), H = a.H + Warp.ShuffleXor(a.H, o),
    };

    private static float Max(float value)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) value = GpuMath.Maximum(value, Warp.ShuffleXor(value, o));
        return value;
    }

    private static float Sum(float value)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o /= 2) value += Warp.ShuffleXor(value, o);
        return value;
    }
}
