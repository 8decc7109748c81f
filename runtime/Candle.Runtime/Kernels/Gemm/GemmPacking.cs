using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Gemm;

/// <summary>Copies blocks of A and B into the panel layouts the microkernels read.</summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs the <paramref name="mc"/> x <paramref name="kc"/> block at <paramref name="a"/> into panels of
    /// <paramref name="mr"/> rows: panel <c>i</c> holds, for each k, the <c>mr</c> values of its rows
    /// (multiplied by <paramref name="alpha"/>), padded with zeros past the last row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* dst, float* a, long rowStride, long colStride, int mc, int kc, int mr, float alpha)
    {
        for (int r0 = 0; r0 < mc; r0 += mr)
        {
            int rows = Math.Min(mr, mc - r0);
            float* d = dst + ((long)r0 * kc);
            float* src0 = a + (r0 * rowStride);
            if (rows == mr && colStride == 1 && mr % 4 == 0 && Avx.IsSupported)
            {
                PackRowsTransposed(d, src0, rowStride, kc, mr, alpha);
            }
            else if (rows == mr && rowStride == 1 && mr % 4 == 0)
            {
                var va = Vector128.Create(alpha);
                for (int p = 0; p < kc; p++)
                {
                    float* src = src0 + (p * colStride);
                    float* dp = d + ((long)p * mr);
                    for (int r = 0; r < mr; r += 4)
                    {
                        (va * Vector128.Load(src + r)).Store(dp + r);
                    }
                }
            }
            else if (colStride == 1)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* src = src0 + (r * rowStride);
                    float* dr = d + r;
                    for (int p = 0; p < kc; p++)
                    {
                        dr[(long)p * mr] = alpha * src[p];
                    }
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = src0 + (p * colStride);
                    float* dp = d + ((long)p * mr);
                    for (int r = 0; r < rows; r++)
                    {
                        dp[r] = alpha * src[r * rowStride];
                    }
                }
            }

            if (rows < mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    new Span<float>(d + ((long)p * mr) + rows, mr - rows).Clear();
                }
            }
        }
    }

    // One full panel from rows that are contiguous along k: 4x8 blocks transposed in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsTransposed(float* d, float* src, long rowStride, int kc, int mr, float alpha)
    {
        var va = Vector256.Create(alpha);
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            float* dp = d + ((long)p * mr);
            for (int g = 0; g < mr; g += 4)
            {
                float* s = src + (g * rowStride) + p;
                var r0 = va * Vector256.Load(s);
                var r1 = va * Vector256.Load(s + rowStride);
                var r2 = va * Vector256.Load(s + (2 * rowStride));
                var r3 = va * Vector256.Load(s + (3 * rowStride));
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);

                // u0 holds k = p (low lane) and p + 4 (high lane), u1 holds p + 1 and p + 5, and so on.
                var u0 = Avx.Shuffle(t0, t2, 0x44);
                var u1 = Avx.Shuffle(t0, t2, 0xEE);
                var u2 = Avx.Shuffle(t1, t3, 0x44);
                var u3 = Avx.Shuffle(t1, t3, 0xEE);
                float* o = dp + g;
                u0.GetLower().Store(o);
                u1.GetLower().Store(o + mr);
                u2.GetLower().Store(o + (2 * mr));
                u3.GetLower().Store(o + (3 * mr));
                u0.GetUpper().Store(o + (4 * mr));
                u1.GetUpper().Store(o + (5 * mr));
                u2.GetUpper().Store(o + (6 * mr));
                u3.GetUpper().Store(o + (7 * mr));
            }
        }

        for (; p < kc; p++)
        {
            float* dp = d + ((long)p * mr);
            for (int r = 0; r < mr; r++)
            {
                dp[r] = alpha * src[(r * rowStride) + p];
            }
        }
    }

    /// <summary>
    /// Packs rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of the panels
    /// [<paramref name="panelStart"/>, <paramref name="panelEnd"/>) of B (<paramref name="n"/> columns):
    /// panel <c>j</c> lives at <c>dst + j * panelStride</c> as rows of <paramref name="nr"/> values
    /// (row <c>p</c> at offset <c>p * nr</c>), padded with zeros past column <paramref name="n"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(
        float* dst, long panelStride, float* b, long rowStride, long colStride,
        int rowStart, int rowEnd, int n, int nr, int panelStart, int panelEnd)
    {
        if (colStride == 1)
        {
            // A few rows of B at a time across all panels: B is read row by row, each panel written in runs.
            const int rowsPerPass = 8;
            for (int p0 = rowStart; p0 < rowEnd; p0 += rowsPerPass)
            {
                int p1 = Math.Min(rowEnd, p0 + rowsPerPass);
                for (int jp = panelStart; jp < panelEnd; jp++)
                {
                    int j0 = jp * nr;
                    int cols = Math.Min(nr, n - j0);
                    float* d = dst + (jp * panelStride);
                    for (int p = p0; p < p1; p++)
                    {
                        float* src = b + (p * rowStride) + j0;
                        float* dp = d + ((long)p * nr);
                        int j = 0;
                        for (; j + 8 <= cols; j += 8)
                        {
                            Vector256.Store(Vector256.Load(src + j), dp + j);
                        }

                        for (; j < cols; j++)
                        {
                            dp[j] = src[j];
                        }

                        for (; j < nr; j++)
                        {
                            dp[j] = 0;
                        }
                    }
                }
            }

            return;
        }

        if (rowStride == 1 && nr % 8 == 0 && Avx.IsSupported)
        {
            PackBTransposed(dst, panelStride, b, colStride, rowStart, rowEnd, n, nr, panelStart, panelEnd);
            return;
        }

        for (int jp = panelStart; jp < panelEnd; jp++)
        {
            int j0 = jp * nr;
            int cols = Math.Min(nr, n - j0);
            float* d = dst + (jp * panelStride);
            for (int j = 0; j < cols; j++)
            {
                float* src = b + ((j0 + j) * colStride);
                float* dj = d + j;
                for (int p = rowStart; p < rowEnd; p++)
                {
                    dj[(long)p * nr] = src[p * rowStride];
                }
            }

            if (cols < nr)
            {
                for (int p = rowStart; p < rowEnd; p++)
                {
                    new Span<float>(d + ((long)p * nr) + cols, nr - cols).Clear();
                }
            }
        }
    }

    // B stored transposed (a weight W[N, K] read as B = Wᵀ: B[p, j] at j * colStride + p): each group of 8 columns is
    // read as 8 runs along k and written as rows of the panel through 8x8 transposes in registers, instead of one
    // strided store per element. The packed values are the same.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackBTransposed(
        float* dst, long panelStride, float* b, long colStride,
        int rowStart, int rowEnd, int n, int nr, int panelStart, int panelEnd)
    {
        for (int jp = panelStart; jp < panelEnd; jp++)
        {
            int j0 = jp * nr;
            int cols = Math.Min(nr, n - j0);
            float* d = dst + (jp * panelStride);
            for (int jg = 0; jg < nr; jg += 8)
            {
                int groupCols = Math.Clamp(cols - jg, 0, 8);
                float* dg = d + jg;
                int p = rowStart;
                if (groupCols == 8)
                {
                    float* s0 = b + ((j0 + jg) * colStride);
                    for (; p + 8 <= rowEnd; p += 8)
                    {
                        float* s = s0 + p;
                        var r0 = Vector256.Load(s);
                        var r1 = Vector256.Load(s + colStride);
                        var r2 = Vector256.Load(s + (2 * colStride));
                        var r3 = Vector256.Load(s + (3 * colStride));
                        var r4 = Vector256.Load(s + (4 * colStride));
                        var r5 = Vector256.Load(s + (5 * colStride));
                        var r6 = Vector256.Load(s + (6 * colStride));
                        var r7 = Vector256.Load(s + (7 * colStride));
                        var t0 = Avx.UnpackLow(r0, r1);
                        var t1 = Avx.UnpackHigh(r0, r1);
                        var t2 = Avx.UnpackLow(r2, r3);
                        var t3 = Avx.UnpackHigh(r2, r3);
                        var t4 = Avx.UnpackLow(r4, r5);
                        var t5 = Avx.UnpackHigh(r4, r5);
                        var t6 = Avx.UnpackLow(r6, r7);
                        var t7 = Avx.UnpackHigh(r6, r7);
                        var u0 = Avx.Shuffle(t0, t2, 0x44);
                        var u1 = Avx.Shuffle(t0, t2, 0xEE);
                        var u2 = Avx.Shuffle(t1, t3, 0x44);
                        var u3 = Avx.Shuffle(t1, t3, 0xEE);
                        var u4 = Avx.Shuffle(t4, t6, 0x44);
                        var u5 = Avx.Shuffle(t4, t6, 0xEE);
                        var u6 = Avx.Shuffle(t5, t7, 0x44);
                        var u7 = Avx.Shuffle(t5, t7, 0xEE);
                        float* o = dg + ((long)p * nr);
                        Avx.Permute2x128(u0, u4, 0x20).Store(o);
                        Avx.Permute2x128(u1, u5, 0x20).Store(o + nr);
                        Avx.Permute2x128(u2, u6, 0x20).Store(o + (2 * nr));
                        Avx.Permute2x128(u3, u7, 0x20).Store(o + (3 * nr));
                        Avx.Permute2x128(u0, u4, 0x31).Store(o + (4 * nr));
                        Avx.Permute2x128(u1, u5, 0x31).Store(o + (5 * nr));
                        Avx.Permute2x128(u2, u6, 0x31).Store(o + (6 * nr));
                        Avx.Permute2x128(u3, u7, 0x31).Store(o + (7 * nr));
                    }
                }

                for (; p < rowEnd; p++)
                {
                    float* dp = dg + ((long)p * nr);
                    for (int j = 0; j < 8; j++)
                    {
                        dp[j] = j < groupCols ? b[((j0 + jg + j) * colStride) + p] : 0f;
                    }
                }
            }
        }
    }
}
