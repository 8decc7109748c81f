// Quantized GEMV y[n] = W[n, :] · x for GGML blocks of 32 weights: Q8_0 (half scale, 32 int8) and Q4_0 (half
// scale, 16 bytes: weight j in the low nibble of byte j, weight j + 16 in its high nibble, value (q - 8) · scale).
// One simdgroup per output row, lanes over blocks, simd_sum; threadgroups of 4 simdgroups (4 rows).
// args: n (rows of W), k (a multiple of 32).
kernel void cdlib_gemv_q8_0(device const uchar* w [[buffer(0)]], device const float* x [[buffer(1)]], device float* y [[buffer(2)]],
                            constant long* args [[buffer(3)]], uint tg [[threadgroup_position_in_grid]],
                            uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]])
{
    long n = args[0], k = args[1], blocks = k / 32;
    long row = (long)tg * 4 + sg;
    if (row >= n) return;
    device const uchar* wr = w + row * blocks * 34;
    float s = 0.0f;
    for (long blk = lane; blk < blocks; blk += 32)
    {
        device const uchar* p = wr + blk * 34;
        float d = float(as_type<half>((ushort)(p[0] | (p[1] << 8))));
        device const char* q = (device const char*)(p + 2);
        float t = 0.0f;
        for (int j = 0; j < 32; j++) t += (float)q[j] * x[blk * 32 + j];
        s += d * t;
    }

    s = simd_sum(s);
    if (lane == 0) y[row] = s;
}

kernel void cdlib_gemv_q4_0(device const uchar* w [[buffer(0)]], device const float* x [[buffer(1)]], device float* y [[buffer(2)]],
                            constant long* args [[buffer(3)]], uint tg [[threadgroup_position_in_grid]],
                            uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]])
{
    long n = args[0], k = args[1], blocks = k / 32;
    long row = (long)tg * 4 + sg;
    if (row >= n) return;
    device const uchar* wr = w + row * blocks * 18;
    float s = 0.0f;
    for (long blk = lane; blk < blocks; blk += 32)
    {
        device const uchar* p = wr + blk * 18;
        float d = float(as_type<half>((ushort)(p[0] | (p[1] << 8))));
        float t = 0.0f;
        for (int j = 0; j < 16; j++)
        {
            uchar b = p[2 + j];
            t += (float)((int)(b & 0x0F) - 8) * x[blk * 32 + j] + (float)((int)(b >> 4) - 8) * x[blk * 32 + j + 16];
        }

        s += d * t;
    }

    s = simd_sum(s);
    if (lane == 0) y[row] = s;
}
