using Candle.Runtime.Kernels.Gemm;

namespace Candle.Runtime.Tests.Gemm;

/// <summary>
/// Packing B stored transposed (a weight W[N, K] read as Wᵀ, the backward's and the tied LM head's operand) gives the
/// panel layout element for element: panel j holds, for each k, the values W[j·nr + c, k], zeros past column N.
/// </summary>
public unsafe class GemmPackingTests
{
    [Theory]
    [InlineData(1, 1, 8, 0)]
    [InlineData(7, 23, 24, 0)]
    [InlineData(8, 24, 24, 0)]
    [InlineData(19, 50, 24, 3)]
    [InlineData(64, 48, 32, 0)]
    [InlineData(67, 33, 32, 9)]
    [InlineData(130, 129, 16, 64)]
    public void TransposedBPacksIntoThePanelLayout(int k, int n, int nr, int rowStart)
    {
        var rng = new Random((k * 1000) + n);
        var w = Enumerable.Range(0, n * k).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        int panels = (n + nr - 1) / nr;
        long panelStride = (long)k * nr;
        var packed = Enumerable.Repeat(float.NaN, (int)(panels * panelStride)).ToArray();
        fixed (float* pw = w)
        fixed (float* pd = packed)
        {
            // B[p, j] = W[j, p]: row stride 1, column stride K.
            GemmPacking.PackB(pd, panelStride, pw, 1, k, rowStart, k, n, nr, 0, panels);
        }

        for (int jp = 0; jp < panels; jp++)
        {
            for (int p = 0; p < k; p++)
            {
                for (int c = 0; c < nr; c++)
                {
                    int j = (jp * nr) + c;
                    float got = packed[(jp * panelStride) + ((long)p * nr) + c];
                    if (p < rowStart)
                    {
                        Assert.True(float.IsNaN(got), $"row {p} before the packed rows was written");
                        continue;
                    }

                    float want = j < n ? w[((long)j * k) + p] : 0f;
                    Assert.True(want.Equals(got), $"panel {jp}, k {p}, column {c}: want {want}, got {got}");
                }
            }
        }
    }
}
