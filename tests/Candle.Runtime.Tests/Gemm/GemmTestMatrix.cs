namespace Candle.Runtime.Tests.Gemm;

/// <summary>A float matrix stored row-major or column-major with padding, for strided GEMM operands.</summary>
internal sealed class GemmTestMatrix
{
    public GemmTestMatrix(int rows, int cols, bool columnMajor, int pad, Random rng)
    {
        Rows = rows;
        Cols = cols;
        if (columnMajor)
        {
            RowStride = 1;
            ColStride = rows + pad;
            Data = new float[Math.Max(1, (cols * (rows + pad)) + 1)];
        }
        else
        {
            RowStride = cols + pad;
            ColStride = 1;
            Data = new float[Math.Max(1, (rows * (cols + pad)) + 1)];
        }

        // Fill everything (padding too) so reads of padding would show up as wrong results.
        for (int i = 0; i < Data.Length; i++)
        {
            Data[i] = (float)((rng.NextDouble() * 2) - 1);
        }
    }

    public int Rows { get; }

    public int Cols { get; }

    public int RowStride { get; }

    public int ColStride { get; }

    public float[] Data { get; }

    public float this[int i, int j] => Data[(i * RowStride) + (j * ColStride)];
}

internal static class GemmOracle
{
    /// <summary>alpha * A * B + beta * C0 in double, with a per-element error bound for float accumulation.</summary>
    public static (double[] Expected, double[] Tolerance) Compute(
        GemmTestMatrix a, GemmTestMatrix b, float[] c0, int ldc, float alpha, float beta)
    {
        int m = a.Rows, k = a.Cols, n = b.Cols;
        var expected = new double[m * n];
        var tol = new double[m * n];
        const double eps = 1.0 / (1 << 23);
        var ad = new double[m * k];
        var bt = new double[n * k];
        for (int i = 0; i < m; i++)
        {
            for (int p = 0; p < k; p++)
            {
                ad[(i * k) + p] = a[i, p];
            }
        }

        for (int p = 0; p < k; p++)
        {
            for (int j = 0; j < n; j++)
            {
                bt[(j * k) + p] = b[p, j];
            }
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0, abs = 0;
                int ai = i * k, bj = j * k;
                for (int p = 0; p < k; p++)
                {
                    double t = ad[ai + p] * bt[bj + p];
                    s += t;
                    abs += Math.Abs(t);
                }

                double cOld = beta == 0 ? 0 : c0[(i * ldc) + j];
                expected[(i * n) + j] = (alpha * s) + (beta * cOld);
                tol[(i * n) + j] = (2 * (k + 4) * eps * ((Math.Abs(alpha) * abs) + Math.Abs(beta * cOld))) + 1e-30;
            }
        }

        return (expected, tol);
    }

    public static void AssertClose(double[] expected, double[] tol, float[] c, int m, int n, int ldc, string what)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double e = expected[(i * n) + j];
                double got = c[(i * ldc) + j];
                if (!(Math.Abs(got - e) <= tol[(i * n) + j]))
                {
                    Assert.Fail($"{what}: C[{i}, {j}] = {got}, expected {e} (tolerance {tol[(i * n) + j]:g3})");
                }
            }
        }
    }
}
