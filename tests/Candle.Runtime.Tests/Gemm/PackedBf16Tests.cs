using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Threading;

namespace Candle.Runtime.Tests.Gemm;

/// <summary>
/// Weights packed at bfloat16 width (<see cref="Bf16Packing"/>): half the bytes of float32 panels, widened exactly as
/// products read them — one row through the panel matrix-vector path, several rows through the blocked driver (with
/// alpha, beta and an epilogue) — for every microkernel layout, against a double-precision loop over the widened values.
/// </summary>
public unsafe class PackedBf16Tests
{
    private static readonly WorkerPool Pool = WorkerPool.Create(2);

    [Theory]
    [InlineData(0, 1, 29, 37, 1f, 0f)]
    [InlineData(1, 1, 29, 37, 1f, 0f)]
    [InlineData(2, 1, 200, 301, 1f, 0f)]
    [InlineData(1, 1, 50, 20, 0.5f, 2f)]
    [InlineData(0, 7, 45, 20, 1f, 0f)]
    [InlineData(1, 7, 45, 20, 0.5f, 2f)]
    [InlineData(2, 130, 129, 300, 1f, 1f)]
    [InlineData(1, 64, 33, 600, 1f, 0f)]
    public void ProductsOverBf16PanelsMatchTheOracle(int kind, int m, int n, int k, float alpha, float beta)
    {
        var rng = new Random((m * 7) + n + k);
        var w = new ushort[n * k]; // W[N, K], read as B = Wᵀ
        for (int i = 0; i < w.Length; i++) w[i] = (ushort)(BitConverter.SingleToUInt32Bits((rng.NextSingle() * 2) - 1) >> 16);
        var a = Enumerable.Range(0, m * k).Select(_ => (rng.NextSingle() * 2) - 1).ToArray();
        var bias = Enumerable.Range(0, n).Select(j => j * 0.25f).ToArray();
        var c = Enumerable.Range(0, m * n).Select(i => (float)(i % 5)).ToArray();
        var c0 = (float[])c.Clone();
        fixed (ushort* pw = w)
        fixed (float* pa = a)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            using var packed = Bf16Packing.PackB((SgemmKernelKind)kind, pw, k, n, 1, k);
            long values = (long)((n + packed.PanelWidth - 1) / packed.PanelWidth) * packed.PanelWidth * k;
            Assert.Equal(Math.Max(32, values) * sizeof(ushort), packed.SizeInBytes); // two bytes a value, not four
            var epi = new BiasEpilogue(pbias);
            Sgemm.MultiplyPackedCore(SgemmPath.Auto, m, pa, k, 1, packed, pc, n, in epi, alpha, beta, Pool);
        }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                for (int p = 0; p < k; p++) dot += (double)a[(i * k) + p] * BitConverter.Int32BitsToSingle(w[(j * k) + p] << 16);
                double expected = (alpha * dot) + (beta * c0[(i * n) + j]) + bias[j];
                Assert.Equal(expected, c[(i * n) + j], 2e-4);
            }
        }
    }
}
