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
}
