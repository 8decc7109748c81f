// Rotary embedding of dense [rows, d] rows with dense [rows, d / 2] cos and sin tables: halves layout (rotate_half)
// or interleaved pairs. One thread per rotated pair. args: rows, d, interleaved, dtype.
kernel void cdlib_rope(device const uchar* x [[buffer(0)]], device const uchar* cs [[buffer(1)]], device const uchar* sn [[buffer(2)]],
                       device uchar* y [[buffer(3)]], constant long* args [[buffer(4)]], uint gid [[thread_position_in_grid]])
{
    long rows = args[0], d = args[1], dt = args[3], half_d = d / 2;
    long p = (long)gid;
    if (p >= rows * half_d) return;
    long r = p / half_d, i = p % half_d;
    long i0 = args[2] != 0 ? r * d + 2 * i : r * d + i;
    long i1 = args[2] != 0 ? i0 + 1 : i0 + half_d;
    float c = cdlib_ld(cs, p, dt), s = cdlib_ld(sn, p, dt);
    float x0 = cdlib_ld(x, i0, dt), x1 = cdlib_ld(x, i1, dt);
    cdlib_st(y, i0, dt, x0 * c - x1 * s);
    cdlib_st(y, i1, dt, x1 * c + x0 * s);
}

