// Generated kernels of a Llama decoder layer at O2, then the dispatches in order.
#include <metal_stdlib>
using namespace metal;

kernel void row_0_rms_norm(device const uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], device const uchar* b2 [[buffer(2)]], device uchar* b3 [[buffer(3)]], constant long* args [[buffer(4)]], uint tgid [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]], uint tsize [[threads_per_threadgroup]], uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]], uint nsg [[simdgroups_per_threadgroup]])
{
    device const float* x = (device const float*)b0;
    device const float* w = (device const float*)b1;
    device float* y = (device float*)b3;
    long n = args[5];
    threadgroup float cd_red[32];
    long row = (long)tgid;
    {
        float ss = 0.0f;
        for (long j = (long)tid; j < n; j += (long)tsize)
        {
            float v = x[row * n + j];
            ss += v * v;
        }
        ss = simd_sum(ss);
        if (lane == 0) cd_red[sg] = ss;
        threadgroup_barrier(mem_flags::mem_threadgroup);
        ss = lane < nsg ? cd_red[lane] : 0.0f;
        ss = simd_sum(ss);
        threadgroup_barrier(mem_flags::mem_threadgroup);
        float inv = 1.0f / sqrt(ss / (float)n + 1E-06f);
        for (long j = (long)tid; j < n; j += (long)tsize)
        {
            float v = x[row * n + j];
            y[row * n + j] = (v * inv) * w[j];
        }
    }
}

kernel void ew_1_cos(device uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], constant long* args [[buffer(2)]], uint gid [[thread_position_in_grid]])
{
    device float* out = (device float*)b0;
    device const float* in0 = (device const float*)b1;
    long i = (long)gid;
    if (i < args[5])
    {
        long o0 = args[3];
        long rem = i;
        long c0 = rem;
        o0 += c0;
        float v0 = in0[o0];
        float v1 = cos(v0);
        out[i] = v1;
    }
}

kernel void ew_2_sin(device uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], constant long* args [[buffer(2)]], uint gid [[thread_position_in_grid]])
{
    device float* out = (device float*)b0;
    device const float* in0 = (device const float*)b1;
    long i = (long)gid;
    if (i < args[5])
    {
        long o0 = args[3];
        long rem = i;
        long c0 = rem;
        o0 += c0;
        float v0 = in0[o0];
        float v1 = sin(v0);
        out[i] = v1;
    }
}

kernel void ew_3_add(device uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], device const uchar* b2 [[buffer(2)]], constant long* args [[buffer(3)]], uint gid [[thread_position_in_grid]])
{
    device float* out = (device float*)b0;
    device const float* in0 = (device const float*)b1;
    device const float* in1 = (device const float*)b2;
    long i = (long)gid;
    if (i < args[8])
    {
        long o0 = args[4];
        long o1 = args[6];
        long rem = i;
        long c0 = rem;
        o0 += c0;
        o1 += c0;
        float v0 = in0[o0];
        float v1 = in1[o1];
        float v2 = (v0 + v1);
        out[i] = v2;
    }
}

kernel void ew_4_silu_mul(device uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], device const uchar* b2 [[buffer(2)]], constant long* args [[buffer(3)]], uint gid [[thread_position_in_grid]])
{
    device float* out = (device float*)b0;
    device const float* in0 = (device const float*)b1;
    device const float* in1 = (device const float*)b2;
    long i = (long)gid;
    if (i < args[8])
    {
        long o0 = args[4];
        long o1 = args[6];
        long rem = i;
        long c0 = rem;
        o0 += c0;
        o1 += c0;
        float v0 = in0[o0];
        float v1 = cd_silu(v0);
        float v2 = in1[o1];
        float v3 = (v1 * v2);
        out[i] = v3;
    }
}

// rms_norm: row_0_rms_norm buffers [0, 3, -1, 4] args [0, 3, -1, 4, 6, 16]
// matmul: cdlib_gemm buffers [4, 5, 6] args [0, 16, 1, 0, 1, 16, 6, 16, 16, 0]
// cos: ew_1_cos buffers [7, 1] args [7, 1, 24, 0, 1, 24]
// sin: ew_2_sin buffers [8, 1] args [8, 1, 24, 0, 1, 24]
// copy for rope: cdlib_copy buffers [6, 9] args [4, 4, 96, 0, 0, 1, 2, 6, 8, 96, 8, 16, 1, 96, 48, 8, 1]
// copy for rope: cdlib_copy buffers [7, 10] args [4, 4, 48, 0, 0, 1, 2, 6, 4, 24, 0, 4, 1, 48, 24, 4, 1]
// copy for rope: cdlib_copy buffers [8, 11] args [4, 4, 48, 0, 0, 1, 2, 6, 4, 24, 0, 4, 1, 48, 24, 4, 1]
// rope: cdlib_rope buffers [9, 10, 11, 12] args [12, 8, 0, 0]
// matmul: cdlib_gemm buffers [4, 13, 14] args [0, 16, 1, 0, 1, 16, 6, 16, 16, 0]
// copy for rope: cdlib_copy buffers [14, 15] args [4, 4, 96, 0, 0, 1, 2, 6, 8, 96, 8, 16, 1, 96, 48, 8, 1]
// copy for rope: cdlib_copy buffers [7, 16] args [4, 4, 48, 0, 0, 1, 2, 6, 4, 24, 0, 4, 1, 48, 24, 4, 1]
// copy for rope: cdlib_copy buffers [8, 17] args [4, 4, 48, 0, 0, 1, 2, 6, 4, 24, 0, 4, 1, 48, 24, 4, 1]
// rope: cdlib_rope buffers [15, 16, 17, 18] args [12, 8, 0, 0]
// matmul: cdlib_gemm buffers [4, 19, 20] args [0, 16, 1, 0, 1, 16, 6, 16, 16, 0]
// attention: cdlib_attention_prefill buffers [12, 18, 20, 2, 21] args [0, 96, 48, 8, 1, 0, 96, 48, 8, 1, 0, 96, 8, 16, 1, 0, 36, 0, 6, 1, 2, 1, 2, 2, 6, 6, 8, 8, 1052050675, 0, 0, 0]
// copy for reshape: cdlib_copy buffers [21, 22] args [4, 4, 96, 0, 0, 1, 6, 2, 8, 96, 8, 48, 1, 96, 16, 8, 1]
// matmul + epilogue: cdlib_gemm buffers [22, 23, 24] args [0, 16, 1, 0, 1, 16, 6, 16, 16, 0]
// matmul epilogue: ew_3_add buffers [24, 0, 24] args [24, 0, 24, 96, 0, 1, 0, 1, 96]
// rms_norm: row_0_rms_norm buffers [24, 25, -1, 26] args [24, 25, -1, 26, 6, 16]
// matmul: cdlib_gemm buffers [26, 27, 28] args [0, 16, 1, 0, 1, 16, 6, 32, 16, 0]
// matmul + epilogue: cdlib_gemm buffers [26, 29, 30] args [0, 16, 1, 0, 1, 16, 6, 32, 16, 0]
// matmul epilogue: ew_4_silu_mul buffers [30, 28, 30] args [30, 28, 30, 192, 0, 1, 0, 1, 192]
// matmul + epilogue: cdlib_gemm buffers [30, 31, 32] args [0, 32, 1, 0, 1, 32, 6, 16, 32, 0]
// matmul epilogue: ew_3_add buffers [32, 24, 32] args [32, 24, 32, 96, 0, 1, 0, 1, 96]
