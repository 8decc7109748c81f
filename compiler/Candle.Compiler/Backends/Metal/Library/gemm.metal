// C[rows, n] = A[rows, k] · B[k, n] in float, A and B strided (B float or bfloat), C dense.
// A threadgroup of 4 simdgroups computes a 32x32 tile of C: tiles of A (32x16) and B (16x32) are staged in
// threadgroup memory, and each simdgroup accumulates a 16x16 quarter in four simdgroup_float8x8 matrices.
// args: aOffset, aRowStride, aColStride, bOffset, bRowStride, bColStride, rows, n, k, bDType (0 float, 2 bfloat).
// Grid: (ceil(n / 32), ceil(rows / 32)) threadgroups of 128 threads.
kernel void cdlib_gemm(device const uchar* a [[buffer(0)]], device const uchar* b [[buffer(1)]], device float* c [[buffer(2)]],
                       constant long* args [[buffer(3)]], uint2 tg [[threadgroup_position_in_grid]],
                       uint tid [[thread_index_in_threadgroup]], uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float As[32 * 16];
    threadgroup float Bs[16 * 32];
    threadgroup float Cs[32 * 32];
    long aOff = args[0], ars = args[1], acs = args[2], bOff = args[3], brs = args[4], bcs = args[5];
    long rows = args[6], n = args[7], k = args[8], bdt = args[9];
    long row0 = (long)tg.y * 32, col0 = (long)tg.x * 32;
    uint sr = (sg / 2) * 16, sc = (sg % 2) * 16;
    simdgroup_float8x8 acc[4];
    for (int i = 0; i < 4; i++) acc[i] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
    for (long k0 = 0; k0 < k; k0 += 16)
    {
        for (uint e = tid; e < 32 * 16; e += 128)
        {
            long r = row0 + e / 16, kk = k0 + e % 16;
            As[e] = r < rows && kk < k ? cdlib_ld(a, aOff + r * ars + kk * acs, 0) : 0.0f;
            long kb = k0 + e / 32, cc = col0 + e % 32;
            Bs[e] = kb < k && cc < n ? cdlib_ld(b, bOff + kb * brs + cc * bcs, bdt) : 0.0f;
        }

        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (uint kk = 0; kk < 16; kk += 8)
        {
            simdgroup_float8x8 a0, a1, b0, b1;
            simdgroup_load(a0, As, 16, ulong2(kk, sr));
            simdgroup_load(a1, As, 16, ulong2(kk, sr + 8));
            simdgroup_load(b0, Bs, 32, ulong2(sc, kk));
            simdgroup_load(b1, Bs, 32, ulong2(sc + 8, kk));
            simdgroup_multiply_accumulate(acc[0], a0, b0, acc[0]);
            simdgroup_multiply_accumulate(acc[1], a0, b1, acc[1]);
            simdgroup_multiply_accumulate(acc[2], a1, b0, acc[2]);
            simdgroup_multiply_accumulate(acc[3], a1, b1, acc[3]);
        }

        threadgroup_barrier(mem_flags::mem_threadgroup);
    }

    simdgroup_store(acc[0], Cs, 32, ulong2(sc, sr));
    simdgroup_store(acc[1], Cs, 32, ulong2(sc + 8, sr));
    simdgroup_store(acc[2], Cs, 32, ulong2(sc, sr + 8));
    simdgroup_store(acc[3], Cs, 32, ulong2(sc + 8, sr + 8));
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint e = tid; e < 32 * 32; e += 128)
    {
        long r = row0 + e / 32, cc = col0 + e % 32;
        if (r < rows && cc < n) c[r * n + cc] = Cs[e];
    }
}

// Batched product over strided operands of one float dtype into a dense C, one thread per element of C.
// args: dtype, m, n, k, batchRank, batchShape[br], aOffset, aBatchStrides[br], aRowStride, aColStride,
//       bOffset, bBatchStrides[br], bRowStride, bColStride.
kernel void cdlib_batched_matmul(device const uchar* a [[buffer(0)]], device const uchar* b [[buffer(1)]], device uchar* c [[buffer(2)]],
                                 constant long* args [[buffer(3)]], uint gid [[thread_position_in_grid]])
{
    long dt = args[0], m = args[1], n = args[2], k = args[3], br = args[4];
    long batches = 1;
    for (long d = 0; d < br; d++) batches *= args[5 + d];
    long i = (long)gid;
    if (i >= batches * m * n) return;
    long col = i % n, row = (i / n) % m, batch = i / (n * m);
    constant long* aa = args + 5 + br;
    constant long* bb = aa + br + 3;
    long ao = aa[0], bo = bb[0], rem = batch;
    for (long d = br - 1; d >= 0; d--)
    {
        long ci = rem % args[5 + d];
        rem /= args[5 + d];
        ao += ci * aa[1 + d];
        bo += ci * bb[1 + d];
    }

    long ars = aa[1 + br], acs = aa[2 + br], brs = bb[1 + br], bcs = bb[2 + br];
    float s = 0.0f;
    for (long t = 0; t < k; t++) s = fma(cdlib_ld(a, ao + row * ars + t * acs, dt), cdlib_ld(b, bo + t * brs + col * bcs, dt), s);
    cdlib_st(c, i, dt, s);
}
