using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Gemm;
using CsCheck;

namespace Candle.Runtime.Tests.Conv;

public unsafe class ConvPanelsTests
{
    /// <summary>
    /// Every panel of the unfolding equals the windows read one element at a time (zero where a window reads padding
    /// or past the last output position), for random geometries: runs shorter and longer than a vector, strides 1 to 3
    /// (stride 2 takes the vector gather), paddings and dilations, on the panel width of the processor's microkernel.
    /// </summary>
    [Fact]
    public void PanelsHoldTheWindowsReadOneByOne()
    {
        var gen =
            from h in Gen.Int[1, 12]
            from w in Gen.Int[1, 40]
            from kh in Gen.Int[1, 4]
            from kw in Gen.Int[1, 4]
            from sh in Gen.Int[1, 3]
            from sw in Gen.Int[1, 3]
            from ph in Gen.Int[0, 2]
            from pw in Gen.Int[0, 3]
            from dh in Gen.Int[1, 2]
            from dw in Gen.Int[1, 2]
            from channels in Gen.Int[1, 3]
            from seed in Gen.Int
            select (h, w, kh, kw, sh, sw, ph, pw, dh, dw, channels, seed);
        gen.Sample(
            t =>
            {
                long oh = ((t.h + (2 * t.ph) - (t.dh * (t.kh - 1)) - 1) / t.sh) + 1;
                long ow = ((t.w + (2 * t.pw) - (t.dw * (t.kw - 1)) - 1) / t.sw) + 1;
                if (oh <= 0 || ow <= 0) return;
                var geometry = new ConvPanels
                {
                    H = t.h, W = t.w, KH = t.kh, KW = t.kw, OH = oh, OW = ow, SH = t.sh, SW = t.sw, PH = t.ph, PW = t.pw,
                    DH = t.dh, DW = t.dw, Nr = SgemmKernelSelector.PanelWidth(SgemmKernelSelector.Best),
                    Rows = (long)t.channels * t.kh * t.kw,
                };
                var rng = new Random(t.seed);
                var input = new float[t.channels * t.h * t.w];
                for (int i = 0; i < input.Length; i++) input[i] = (float)rng.NextDouble() + 1f;
                var panel = new float[geometry.PanelFloats];
                int nr = geometry.Nr;
                fixed (float* x = input)
                fixed (float* d = panel)
                {
                    for (long j = 0; j < geometry.Panels; j++)
                    {
                        Array.Fill(panel, float.NaN);
                        geometry.Pack(x, j, d);
                        for (int c = 0; c < t.channels; c++)
                        {
                            for (int ky = 0; ky < t.kh; ky++)
                            {
                                for (int kx = 0; kx < t.kw; kx++)
                                {
                                    long row = (((c * t.kh) + ky) * t.kw) + kx;
                                    for (int col = 0; col < nr; col++)
                                    {
                                        long q = (j * nr) + col;
                                        float expected = 0f;
                                        if (q < oh * ow)
                                        {
                                            long iy = (q / ow * t.sh) - t.ph + (ky * t.dh), ix = (q % ow * t.sw) - t.pw + (kx * t.dw);
                                            if (iy >= 0 && iy < t.h && ix >= 0 && ix < t.w) expected = input[(c * t.h * t.w) + (iy * t.w) + ix];
                                        }

                                        Assert.True(
                                            expected == panel[(row * nr) + col],
                                            $"{t}: panel {j} row {row} column {col}: {panel[(row * nr) + col]}, expected {expected}");
                                    }
                                }
                            }
                        }
                    }
                }
            },
            iter: 300);
    }
}
