using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
            if (colStride == 1)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + ((r0 + r) * rowStride);
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
                    float* src = a + (p * colStride) + (r0 * rowStride);
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

    /// <summary>
    /// Packs columns of the <paramref name="kc"/> x <paramref name="n"/> block at <paramref name="b"/> into
    /// panels of <paramref name="nr"/> columns: panel <c>j</c> (for <c>j</c> in
    /// [<paramref name="panelStart"/>, <paramref name="panelEnd"/>)) goes to
    /// <c>dst + j * panelStride</c> as <c>kc</c> rows of <c>nr</c> values, padded with zeros past column <paramref name="n"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* dst, long panelStride, float* b, long rowStride, long colStride, int kc, int n, int nr, int panelStart, int panelEnd)
    {
        for (int jp = panelStart; jp < panelEnd; jp++)
        {
            int j0 = jp * nr;
            int cols = Math.Min(nr, n - j0);
            float* d = dst + (jp * panelStride);
            if (colStride == 1)
            {
                for (int p = 0; p < kc; p++)
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
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + ((j0 + j) * colStride);
                    float* dj = d + j;
                    for (int p = 0; p < kc; p++)
                    {
                        dj[(long)p * nr] = src[p * rowStride];
                    }
                }

                if (cols < nr)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        new Span<float>(d + ((long)p * nr) + cols, nr - cols).Clear();
                    }
                }
            }
        }
    }
}
