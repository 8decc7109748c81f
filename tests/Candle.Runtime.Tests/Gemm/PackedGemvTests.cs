using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Gemm;

/// <summary>
/// One-row products over packed panels (<see cref="Sgemm"/> with a <see cref="PackedB"/> and one row of A take the
/// panel matrix-vector path): every microkernel layout, partial last panels, odd K, strided rows and an epilogue,
/// against a double-precision triple loop.
/// </summary>
public unsafe class PackedGemvTests
{
    private static readonly WorkerPool Pool = WorkerPool.Create(2);

    [Theory]
    [InlineData(0, 29, 37, 1)]
    [InlineData(1, 29, 37, 1)]
    [InlineData(2, 29, 37, 1)]
    [InlineData(1, 200, 301, 3)]
    [InlineData(2, 200, 301, 1)]
    [InlineData(1, 24, 1, 1)]
    [InlineData(2, 1000, 64, 2)]
    [InlineData(1, 5, 0, 1)]
    public void OneRowOverPanelsMatchesTheOracle(int kind, int n, int k, int aStride)
    {
        var rng = new Random((n * 31) + k);
        var w = Enumerable.Range(0, n * k).Select(_ => (rng.NextSingle() * 2) - 1).ToArray(); // W[N, K]
        var a = Enumerable.Range(0, Math.Max(1, k * aStride)).Select(_ => (rng.NextSingle() * 2) - 1).ToArray();
        var bias = Enumerable.Range(0, n).Select(j => j * 0.25f).ToArray();
        var c = Enumerable.Repeat(float.NaN, n).ToArray();
        fixed (float* pw = w)
        fixed (float* pa = a)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            using var packed = Sgemm.PackB((SgemmKernelKind)kind, pw, k, n, 1, k);
            var epi = new BiasEpilogue(pbias);
            Sgemm.MultiplyPackedCore(SgemmPath.Auto, 1, pa, k * aStride, aStride, packed, pc, n, in epi, 1f, 0f, Pool);
        }

        for (int j = 0; j < n; j++)
        {
            double expected = bias[j];
            for (int p = 0; p < k; p++) expected += (double)a[p * aStride] * w[(j * k) + p];
            Assert.Equal(expected, c[j], 1e-4);
        }
    }
}
