// Copies, fills and gathers over raw elements of 1, 2, 4 or 8 bytes, and the float loads and stores of the others.

// Element loads and stores by dtype code: 0 float, 1 half, 2 bfloat.
inline float cdlib_ld(device const uchar* p, long i, long dt)
{
    switch (dt)
    {
        case 1: return float(((device const half*)p)[i]);
        case 2: return float(((device const bfloat*)p)[i]);
        default: return ((device const float*)p)[i];
    }
}

inline void cdlib_st(device uchar* p, long i, long dt, float v)
{
    switch (dt)
    {
        case 1: ((device half*)p)[i] = half(v); break;
        case 2: ((device bfloat*)p)[i] = bfloat(v); break;
        default: ((device float*)p)[i] = v; break;
    }
}

inline void cdlib_copy_element(device uchar* dst, long di, device const uchar* src, long si, long bytes)
{
    switch (bytes)
    {
        case 1: dst[di] = src[si]; break;
        case 2: ((device ushort*)dst)[di] = ((device const ushort*)src)[si]; break;
        case 4: ((device uint*)dst)[di] = ((device const uint*)src)[si]; break;
        default: ((device ulong*)dst)[di] = ((device const ulong*)src)[si]; break;
    }
}

// Strided copy of a view into another of the same shape.
// args: bytes, rank, count, srcOffset, dstOffset, shape[rank], srcStrides[rank], dstStrides[rank] (in elements).
kernel void cdlib_copy(device const uchar* src [[buffer(0)]], device uchar* dst [[buffer(1)]], constant long* args [[buffer(2)]],
                       uint gid [[thread_position_in_grid]])
{
    long i = (long)gid;
    long rank = args[1];
    if (i >= args[2]) return;
    long so = args[3], d = args[4], rem = i;
    for (long k = rank - 1; k >= 0; k--)
    {
        long c = rem % args[5 + k];
        rem = rem / args[5 + k];
        so += c * args[5 + rank + k];
        d += c * args[5 + 2 * rank + k];
    }

    cdlib_copy_element(dst, d, src, so, args[0]);
}

// Fills count elements with the bits of one value. args: bytes, count, bits.
kernel void cdlib_fill(device uchar* dst [[buffer(0)]], constant long* args [[buffer(1)]], uint gid [[thread_position_in_grid]])
{
    long i = (long)gid;
    if (i >= args[1]) return;
    long bits = args[2];
    switch (args[0])
    {
        case 1: dst[i] = (uchar)bits; break;
        case 2: ((device ushort*)dst)[i] = (ushort)bits; break;
        case 4: ((device uint*)dst)[i] = (uint)bits; break;
        default: ((device long*)dst)[i] = bits; break;
    }
}

// start + i * step. args: kind (0 f32, 1 i64, 2 i32, 3 f16, 4 bf16), count, start and step as f32 bits, start and step as integers.
kernel void cdlib_arange(device uchar* dst [[buffer(0)]], constant long* args [[buffer(1)]], uint gid [[thread_position_in_grid]])
{
    long i = (long)gid;
    if (i >= args[1]) return;
    float v = as_type<float>((uint)args[2]) + (float)i * as_type<float>((uint)args[3]);
    long n = args[4] + i * args[5];
    switch (args[0])
    {
        case 0: ((device float*)dst)[i] = v; break;
        case 1: ((device long*)dst)[i] = n; break;
        case 2: ((device int*)dst)[i] = (int)n; break;
        case 3: ((device half*)dst)[i] = half(v); break;
        default: ((device bfloat*)dst)[i] = bfloat(v); break;
    }
}

// numpy.take along the middle axis of a dense [outer, axis, inner] buffer with m dense indices (i64 or i32). An index outside the axis sets *status and writes nothing.
// args: bytes, indexIsI64, outer, axis, inner, m.
kernel void cdlib_index_select(device const uchar* x [[buffer(0)]], device const uchar* index [[buffer(1)]], device uchar* y [[buffer(2)]],
                               constant long* args [[buffer(3)]], device long* status [[buffer(4)]], uint gid [[thread_position_in_grid]])
{
    long i = (long)gid;
    long outer = args[2], axis = args[3], inner = args[4], m = args[5];
    if (i >= outer * m * inner) return;
    long c = i % inner, r = i / inner, j = r % m, o = r / m;
    long k = args[1] != 0 ? ((device const long*)index)[j] : (long)((device const int*)index)[j];
    if (k < 0 || k >= axis)
    {
        status[0] = 1;
        return;
    }

    cdlib_copy_element(y, i, x, (o * axis + k) * inner + c, args[0]);
}
