using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Gemm;

public unsafe class SgemmBatchedTests
{
    private static readonly WorkerPool Pool = WorkerPool.Create(2);

    [Theory]
    [InlineData(3, 5, 7, 9, false, false)]
    [InlineData(3, 5, 7, 9, true, false)]
    [InlineData(3, 5, 7, 9, false, true)]
    [InlineData(9, 40, 33, 50, false, false)]
    [InlineData(2, 130, 70, 90, true, false)]
    [InlineData(16, 1, 64, 100, false, false)]
    [InlineData(1, 4, 4, 4, false, false)]
    [InlineData(0, 4, 4, 4, false, false)]
    [InlineData(12, 128, 128, 32, false, false)]
    [InlineData(5, 70, 64, 64, false, true)]
    public void BatchesWithBroadcastMatchPerBatchOracle(int batch, int m, int n, int k, bool broadcastA, bool broadcastB)
    {
        var rng = new Random(batch + m + n + k);
        int aCount = broadcastA ? 1 : batch;
        int bCount = broadcastB ? 1 : batch;
        var a = Enumerable.Range(0, Math.Max(1, aCount)).Select(_ => new GemmTestMatrix(m, k, false, 0, rng)).ToArray();
        var b = Enumerable.Range(0, Math.Max(1, bCount)).Select(_ => new GemmTestMatrix(k, n, true, 0, rng)).ToArray();
        var aAll = a.SelectMany(x => x.Data.Take(m * k)).ToArray();
        var bAll = b.SelectMany(x => x.Data.Take(k * n)).ToArray();
        var c = new float[Math.Max(1, batch * m * n)];
        Array.Fill(c, 0.5f);
        var c0 = (float[])c.Clone();
        float alpha = 2f, beta = 1f;
        fixed (float* pa = aAll)
        fixed (float* pb = bAll)
        fixed (float* pc = c)
        {
            var none = default(NoEpilogue);
            Sgemm.MultiplyBatchedCore(
                SgemmKernelSelector.Best, SgemmPath.Auto, batch, m, n, k,
                pa, broadcastA ? 0 : m * k, k, 1,
                pb, broadcastB ? 0 : k * n, 1, k,
                pc, m * n, n, in none, alpha, beta, Pool);
        }

        for (int i = 0; i < batch; i++)
        {
            var ci = c.AsSpan(i * m * n, m * n).ToArray();
            var c0i = c0.AsSpan(i * m * n, m * n).ToArray();
            var (expected, tol) = GemmOracle.Compute(a[broadcastA ? 0 : i], b[broadcastB ? 0 : i], c0i, n, alpha, beta);
            GemmOracle.AssertClose(expected, tol, ci, m, n, n, $"batch {i}");
        }
    }

    [Fact]
    public void PublicBatchedOverloadUsesRowsCountedAcrossBatchesForEpilogues()
    {
        const int batch = 4, m = 3, n = 5, k = 2;
        var a = Enumerable.Range(0, batch * m * k).Select(i => (float)(i % 7) - 3).ToArray();
        var b = Enumerable.Range(0, k * n).Select(i => (float)(i % 5) - 2).ToArray();
        var residual = Enumerable.Range(0, batch * m * n).Select(i => (float)i).ToArray();
        var c = new float[batch * m * n];
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        fixed (float* pr = residual)
        {
            var epi = new ResidualEpilogue(pr, n);
            Sgemm.MultiplyBatched(batch, m, n, k, pa, m * k, k, 1, pb, 0, n, 1, pc, m * n, n, in epi, pool: Pool);
        }

        for (int t = 0; t < batch; t++)
        {
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    float s = 0;
                    for (int p = 0; p < k; p++)
                    {
                        s += a[(t * m * k) + (i * k) + p] * b[(p * n) + j];
                    }

                    int idx = (t * m * n) + (i * n) + j;
                    Assert.Equal(s + residual[idx], c[idx]);
                }
            }
        }
    }
}
