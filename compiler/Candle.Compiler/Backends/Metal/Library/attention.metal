// Scaled dot-product attention softmax(q·kᵀ·scale + mask)·v over strided [batch, heads, seq, head_dim] views, GQA
// (query head h reads key/value head h / (H / Hkv)), causal bottom-right aligned (key j hidden from query i when
// j > i + Sk − Sq), a bool mask keeping true positions or a float mask added to the scores. Head dims up to 256.
// Both kernels keep an online softmax (running max m, sum l, and the weighted sum of v rows) in float.
// args: qOffset, qStrides[4], kOffset, kStrides[4], vOffset, vStrides[4], maskOffset, maskStrides[4],
//       maskKind (0 none, 1 bool, 2 float), B, H, Hkv, Sq, Sk, Dk, Dv, scale (float bits), causal, dtype, maskDType.
// y is dense [B, H, Sq, Dv] of dtype.

inline float cdlib_attention_mask(device const uchar* mask, constant long* args, long b, long h, long i, long j, float s)
{
    if (args[29] != 0 && j > i + (args[25] - args[24])) return -INFINITY;
    if (args[20] == 0) return s;
    long mi = args[15] + b * args[16] + h * args[17] + i * args[18] + j * args[19];
    if (args[20] == 1) return mask[mi] != 0 ? s : -INFINITY;
    return s + cdlib_ld(mask, mi, args[31]);
}

// Prefill (flash-style): a threadgroup of 4 simdgroups takes 4 query rows of one (batch, head); blocks of 16 keys
// and values are staged in threadgroup memory and shared by the 4 rows; each simdgroup holds its row's q and
// output spread over its lanes (dim t in lane t % 32) and reduces each score with simd_sum.
// Grid: (ceil(Sq / 4), H, B) threadgroups of 128 threads.
kernel void cdlib_attention_prefill(device const uchar* q [[buffer(0)]], device const uchar* k [[buffer(1)]], device const uchar* v [[buffer(2)]],
                                    device const uchar* mask [[buffer(3)]], device uchar* y [[buffer(4)]], constant long* args [[buffer(5)]],
                                    uint3 tg [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                                    uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float Ks[16 * 256];
    threadgroup float Vs[16 * 256];
    long H = args[22], Hkv = args[23], Sq = args[24], Sk = args[25], dk = args[26], dv = args[27], dt = args[30];
    float scale = as_type<float>((uint)args[28]);
    long b = tg.z, h = tg.y, i = (long)tg.x * 4 + sg, kvh = h / (H / Hkv);
    bool active = i < Sq;
    float qv[8], acc[8];
    for (int u = 0; u < 8; u++)
    {
        long t = lane + 32 * u;
        qv[u] = active && t < dk ? cdlib_ld(q, args[0] + b * args[1] + h * args[2] + i * args[3] + t * args[4], dt) : 0.0f;
        acc[u] = 0.0f;
    }

    float m = -INFINITY, l = 0.0f;
    for (long j0 = 0; j0 < Sk; j0 += 16)
    {
        long jn = Sk - j0 < 16 ? Sk - j0 : 16;
        for (long e = tid; e < 16 * dk; e += 128)
        {
            long jj = e / dk, t = e % dk;
            Ks[jj * dk + t] = jj < jn ? cdlib_ld(k, args[5] + b * args[6] + kvh * args[7] + (j0 + jj) * args[8] + t * args[9], dt) : 0.0f;
        }

        for (long e = tid; e < 16 * dv; e += 128)
        {
            long jj = e / dv, t = e % dv;
            Vs[jj * dv + t] = jj < jn ? cdlib_ld(v, args[10] + b * args[11] + kvh * args[12] + (j0 + jj) * args[13] + t * args[14], dt) : 0.0f;
        }

        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (long jj = 0; jj < jn; jj++)
        {
            float part = 0.0f;
            for (int u = 0; u < 8; u++)
            {
                long t = lane + 32 * u;
                if (t < dk) part = fma(qv[u], Ks[jj * dk + t], part);
            }

            float s = simd_sum(part) * scale;
            if (!active) continue;
            s = cdlib_attention_mask(mask, args, b, h, i, j0 + jj, s);
            float mNew = max(m, s);
            if (mNew == -INFINITY) continue;
            float corr = exp(m - mNew), p = exp(s - mNew);
            l = l * corr + p;
            for (int u = 0; u < 8; u++)
            {
                long t = lane + 32 * u;
                if (t < dv) acc[u] = acc[u] * corr + p * Vs[jj * dv + t];
            }

            m = mNew;
        }

        threadgroup_barrier(mem_flags::mem_threadgroup);
    }

    if (!active) return;
    for (int u = 0; u < 8; u++)
    {
        long t = lane + 32 * u;
        if (t < dv) cdlib_st(y, ((b * H + h) * Sq + i) * dv + t, dt, acc[u] / l);
    }
}

// Decode: one threadgroup per query row (Sq is small); its 4 simdgroups take every fourth key each, reading k and
// v from device memory, and their softmax states are merged through threadgroup memory by simdgroup 0.
// Grid: (Sq, H, B) threadgroups of 128 threads.
kernel void cdlib_attention_decode(device const uchar* q [[buffer(0)]], device const uchar* k [[buffer(1)]], device const uchar* v [[buffer(2)]],
                                   device const uchar* mask [[buffer(3)]], device uchar* y [[buffer(4)]], constant long* args [[buffer(5)]],
                                   uint3 tg [[threadgroup_position_in_grid]], uint lane [[thread_index_in_simdgroup]],
                                   uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float ms[4];
    threadgroup float ls[4];
    threadgroup float accs[4 * 256];
    long H = args[22], Hkv = args[23], Sq = args[24], Sk = args[25], dk = args[26], dv = args[27], dt = args[30];
    float scale = as_type<float>((uint)args[28]);
    long b = tg.z, h = tg.y, i = tg.x, kvh = h / (H / Hkv);
    float qv[8], acc[8];
    for (int u = 0; u < 8; u++)
    {
        long t = lane + 32 * u;
        qv[u] = t < dk ? cdlib_ld(q, args[0] + b * args[1] + h * args[2] + i * args[3] + t * args[4], dt) : 0.0f;
        acc[u] = 0.0f;
    }

    float m = -INFINITY, l = 0.0f;
    for (long j = sg; j < Sk; j += 4)
    {
        float part = 0.0f;
        long kb = args[5] + b * args[6] + kvh * args[7] + j * args[8];
        for (int u = 0; u < 8; u++)
        {
            long t = lane + 32 * u;
            if (t < dk) part = fma(qv[u], cdlib_ld(k, kb + t * args[9], dt), part);
        }

        float s = cdlib_attention_mask(mask, args, b, h, i, j, simd_sum(part) * scale);
        float mNew = max(m, s);
        if (mNew == -INFINITY) continue;
        float corr = exp(m - mNew), p = exp(s - mNew);
        l = l * corr + p;
        long vb = args[10] + b * args[11] + kvh * args[12] + j * args[13];
        for (int u = 0; u < 8; u++)
        {
            long t = lane + 32 * u;
            if (t < dv) acc[u] = acc[u] * corr + p * cdlib_ld(v, vb + t * args[14], dt);
        }

        m = mNew;
    }

    if (lane == 0)
    {
        ms[sg] = m;
        ls[sg] = l;
    }

    for (int u = 0; u < 8; u++)
    {
        long t = lane + 32 * u;
        if (t < dv) accs[sg * 256 + t] = acc[u];
    }

    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (sg != 0) return;
    float mAll = max(max(ms[0], ms[1]), max(ms[2], ms[3]));
    float lAll = 0.0f, w[4];
    for (int g = 0; g < 4; g++)
    {
        w[g] = ms[g] == -INFINITY ? 0.0f : exp(ms[g] - mAll);
        lAll += ls[g] * w[g];
    }

    for (int u = 0; u < 8; u++)
    {
        long t = lane + 32 * u;
        if (t >= dv) continue;
        float o = 0.0f;
        for (int g = 0; g < 4; g++) o += accs[g * 256 + t] * w[g];
        cdlib_st(y, ((b * H + h) * Sq + i) * dv + t, dt, o / lAll);
    }
}
