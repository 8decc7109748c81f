// Row normalizations written once for dense float rows (the backend's generated row kernels compute the same for
// every dtype): softmax, rms_norm and layer_norm, one threadgroup of 32..1024 threads (a multiple of 32) per row.
// args: rows, n, eps (float bits); weight and bias buffers are read when hasWeight / hasBias (args 3, 4).
// The threadgroup sum is a macro: threadgroup memory is declared in the kernel's scope.
#define CDLIB_TG_SUM(v, scratch)                                   \
    v = simd_sum(v);                                               \
    if (lane == 0) scratch[sg] = v;                                \
    threadgroup_barrier(mem_flags::mem_threadgroup);               \
    v = lane < nsg ? scratch[lane] : 0.0f;                         \
    v = simd_sum(v);                                               \
    threadgroup_barrier(mem_flags::mem_threadgroup);

#define CDLIB_TG_MAX(v, scratch)                                   \
    v = simd_max(v);                                               \
    if (lane == 0) scratch[sg] = v;                                \
    threadgroup_barrier(mem_flags::mem_threadgroup);               \
    v = lane < nsg ? scratch[lane] : -INFINITY;                    \
    v = simd_max(v);                                               \
    threadgroup_barrier(mem_flags::mem_threadgroup);

kernel void cdlib_softmax_rows(device const float* x [[buffer(0)]], device float* y [[buffer(1)]], constant long* args [[buffer(2)]],
                               uint row [[threadgroup_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                               uint tsize [[threads_per_threadgroup]], uint lane [[thread_index_in_simdgroup]],
                               uint sg [[simdgroup_index_in_threadgroup]], uint nsg [[simdgroups_per_threadgroup]])
{
    threadgroup float scratch[32];
    long n = args[1];
    device const float* xr = x + (long)row * n;
    device float* yr = y + (long)row * n;
    float m = -INFINITY;
    for (long j = tid; j < n; j += tsize) m = max(m, xr[j]);
    CDLIB_TG_MAX(m, scratch)
    float s = 0.0f;
    for (long j = tid; j < n; j += tsize) s += exp(xr[j] - m);
    CDLIB_TG_SUM(s, scratch)
    for (long j = tid; j < n; j += tsize) yr[j] = exp(xr[j] - m) / s;
}

kernel void cdlib_rms_norm_rows(device const float* x [[buffer(0)]], device const float* w [[buffer(1)]], device float* y [[buffer(2)]],
                                constant long* args [[buffer(3)]], uint row [[threadgroup_position_in_grid]],
                                uint tid [[thread_index_in_threadgroup]], uint tsize [[threads_per_threadgroup]],
                                uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]],
                                uint nsg [[simdgroups_per_threadgroup]])
{
    threadgroup float scratch[32];
    long n = args[1];
    float eps = as_type<float>((uint)args[2]);
    device const float* xr = x + (long)row * n;
    float ss = 0.0f;
    for (long j = tid; j < n; j += tsize) ss += xr[j] * xr[j];
    CDLIB_TG_SUM(ss, scratch)
    float inv = 1.0f / sqrt(ss / (float)n + eps);
    for (long j = tid; j < n; j += tsize) y[(long)row * n + j] = xr[j] * inv * (args[3] != 0 ? w[j] : 1.0f);
}

kernel void cdlib_layer_norm_rows(device const float* x [[buffer(0)]], device const float* w [[buffer(1)]], device const float* b [[buffer(2)]],
                                  device float* y [[buffer(3)]], constant long* args [[buffer(4)]], uint row [[threadgroup_position_in_grid]],
                                  uint tid [[thread_index_in_threadgroup]], uint tsize [[threads_per_threadgroup]],
                                  uint lane [[thread_index_in_simdgroup]], uint sg [[simdgroup_index_in_threadgroup]],
                                  uint nsg [[simdgroups_per_threadgroup]])
{
    threadgroup float scratch[32];
    long n = args[1];
    float eps = as_type<float>((uint)args[2]);
    device const float* xr = x + (long)row * n;
    float s = 0.0f;
    for (long j = tid; j < n; j += tsize) s += xr[j];
    CDLIB_TG_SUM(s, scratch)
    float mean = s / (float)n;
    float d = 0.0f;
    for (long j = tid; j < n; j += tsize) d += (xr[j] - mean) * (xr[j] - mean);
    CDLIB_TG_SUM(d, scratch)
    float inv = 1.0f / sqrt(d / (float)n + eps);
    for (long j = tid; j < n; j += tsize)
    {
        y[(long)row * n + j] = (xr[j] - mean) * inv * (args[3] != 0 ? w[j] : 1.0f) + (args[4] != 0 ? b[j] : 0.0f);
    }
}
