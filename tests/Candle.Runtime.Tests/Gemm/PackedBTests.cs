using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Gemm;

public unsafe class PackedBTests
{
    private static readonly WorkerPool Pool = WorkerPool.Create(2);

    [Theory]
    [InlineData(1, 70, 33, false, 0, 0)]
    [InlineData(1, 300, 1000, true, 1, 0)]
    [InlineData(7, 45, 20, false, 1, 1)]
    [InlineData(7, 45, 20, true, 2, 2)]
    [InlineData(130, 129, 300, true, 1, 0)]
    [InlineData(64, 33, 257, false, 0, 1)]
    [InlineData(5, 0, 3, false, 1, 0)]
    [InlineData(5, 3, 0, false, 1, 0)]
    public void PackedWeightsMatchTheOracle(int m, int n, int k, bool weightIsNByK, int kind, int path)
    {
        var rng = new Random(m * n + k);
        var a = new GemmTestMatrix(m, k, false, 1, rng);
        var b = new GemmTestMatrix(k, n, weightIsNByK, 0, rng);
        int ldc = n + 2;
        var c = Enumerable.Range(0, Math.Max(1, m * ldc)).Select(i => (float)(i % 3)).ToArray();
        var c0 = (float[])c.Clone();
        var bias = Enumerable.Range(0, n).Select(j => (float)j).ToArray();
        fixed (float* pb = b.Data)
        fixed (float* pa = a.Data)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            using var packed = Sgemm.PackB((SgemmKernelKind)kind, pb, k, n, b.RowStride, b.ColStride);
            Assert.Equal(k, packed.K);
            Assert.Equal(n, packed.N);
            var epi = new BiasEpilogue(pbias);
            for (int rep = 0; rep < 2; rep++)
            {
                Sgemm.MultiplyPackedCore((SgemmPath)path, m, pa, a.RowStride, a.ColStride, packed, pc, ldc, in epi, 0.5f, rep == 0 ? 2f : 0f, Pool);
                var (expected, tol) = GemmOracle.Compute(a, b, c0, ldc, 0.5f, rep == 0 ? 2f : 0f);
                GemmOracle.AssertClose(
                    expected.Select((e, idx) => e + bias[idx % Math.Max(1, n)]).ToArray(), tol.Select(t => t + 1e-5).ToArray(), c, m, n, ldc, $"rep {rep}");
            }
        }
    }

    [Fact]
    public void PublicPackBUsesTheActiveKernelAndDisposedPanelsThrow()
    {
        var w = Enumerable.Range(0, 6 * 4).Select(i => (float)i).ToArray(); // W [N = 6, K = 4]
        var x = new float[] { 1, -1, 2, 0.5f };
        var y = new float[6];
        PackedB packed;
        fixed (float* pw = w)
        {
            packed = Sgemm.PackB(pw, 4, 6, 1, 4);
        }

        fixed (float* px = x)
        fixed (float* py = y)
        {
            Sgemm.Multiply(1, px, 4, 1, packed, py, 6);
            for (int j = 0; j < 6; j++)
            {
                float e = 0;
                for (int p = 0; p < 4; p++)
                {
                    e += w[(j * 4) + p] * x[p];
                }

                Assert.Equal(e, y[j]);
            }

            packed.Dispose();
            float* px2 = px, py2 = py;
            Assert.Throws<ObjectDisposedException>(() => Sgemm.Multiply(1, px2, 4, 1, packed, py2, 6));
        }
    }
}
