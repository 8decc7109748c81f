using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// The convolutions that go through unfolded windows (<c>rt:conv_gemm</c> outside Winograd): the panel packer against a
/// scalar unfolding written here, float by float, with guard floats around each panel that must stay untouched; and
/// whole convolutions of the geometries that take that path (1×1 of stride 1 and 2, 3×3 of stride 2, a 7×7 stem of
/// stride 2 over three channels, dilation, groups, odd sizes, batch above one, each epilogue) against the reference
/// interpreter.
/// </summary>
public sealed class ConvPanelTests
{
    private const int Guard = 40;

    [Fact]
    public void Packed_panels_hold_the_unfolded_windows_and_nothing_else_is_written()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, int.MaxValue]).Sample((widthPick, seed) =>
        {
            var rng = new Random(seed);
            int nr = widthPick switch { 0 => 8, 1 => 16, 2 => 24, _ => 32 };
            int kh = rng.Next(1, 8), kw = rng.Next(1, 8), sh = rng.Next(1, 4), sw = rng.Next(1, 4);
            int dh = rng.Next(1, 3), dw = rng.Next(1, 3), ph = rng.Next(0, 4), pw = rng.Next(0, 4), channels = rng.Next(1, 5);
            int h = rng.Next(Math.Max(1, ((kh - 1) * dh) + 1 - (2 * ph)), 30), w = rng.Next(Math.Max(1, ((kw - 1) * dw) + 1 - (2 * pw)), 30);
            int oh = ((h + (2 * ph) - ((kh - 1) * dh) - 1) / sh) + 1, ow = ((w + (2 * pw) - ((kw - 1) * dw) - 1) / sw) + 1;
            var g = new ConvPanels
            {
                H = h, W = w, KH = kh, KW = kw, OH = oh, OW = ow, SH = sh, SW = sw, PH = ph, PW = pw, DH = dh, DW = dw,
                Rows = channels * kh * kw, Nr = nr,
            };
            string what = $"{channels}×{h}×{w}, kernel {kh}×{kw}, stride {sh}×{sw}, pad {ph}×{pw}, dilation {dh}×{dw}, panels of {nr}";
            var x = new float[channels * h * w];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() + 1);
            var buffer = new float[Guard + g.PanelFloats + Guard];
            for (long panel = 0; panel < g.Panels; panel++)
            {
                Array.Fill(buffer, float.NaN);
                Pack(g, x, panel, buffer);
                for (int i = 0; i < Guard; i++)
                {
                    Assert.True(float.IsNaN(buffer[i]) && float.IsNaN(buffer[Guard + g.PanelFloats + i]), $"a guard float was written (panel {panel}, {what})");
                }

                for (int c = 0; c < channels; c++)
                {
                    for (int ky = 0; ky < kh; ky++)
                    {
                        for (int kx = 0; kx < kw; kx++)
                        {
                            long row = (((c * kh) + ky) * kw) + kx;
                            for (int j = 0; j < nr; j++)
                            {
                                long q = (panel * nr) + j;
                                float expected = 0;
                                if (q < oh * ow)
                                {
                                    long iy = (q / ow * sh) - ph + (ky * dh), ix = (q % ow * sw) - pw + (kx * dw);
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < w) expected = x[(c * h * w) + (iy * w) + ix];
                                }

                                float actual = buffer[Guard + (row * nr) + j];
                                Assert.True(expected == actual, $"panel {panel} row {row} column {j}: {actual}, expected {expected} ({what})");
                            }
                        }
                    }
                }
            }
        }, iter: 200);
    }

    /// <summary>
    /// Geometries off Winograd's path: in channels, out channels, image size, kernel, stride, padding, dilation,
    /// groups, batch; each with no epilogue, a ReLU and the residual add with a ReLU, on one and two threads.
    /// </summary>
    [Theory]
    [InlineData(3, 64, 37, 7, 2, 3, 1, 1, 1)]
    [InlineData(3, 10, 30, 7, 2, 3, 1, 1, 2)]
    [InlineData(16, 24, 23, 3, 2, 1, 1, 1, 3)]
    [InlineData(64, 128, 28, 3, 2, 1, 1, 1, 1)]
    [InlineData(32, 40, 13, 1, 2, 0, 1, 1, 2)]
    [InlineData(64, 128, 28, 1, 2, 0, 1, 1, 1)]
    [InlineData(24, 36, 11, 1, 1, 0, 1, 1, 3)]
    [InlineData(20, 28, 9, 1, 1, 1, 1, 1, 1)]
    [InlineData(12, 18, 15, 3, 2, 2, 2, 1, 2)]
    [InlineData(16, 32, 17, 3, 1, 1, 1, 2, 2)]
    [InlineData(8, 16, 19, 5, 2, 2, 1, 4, 1)]
    public void Unfolded_convolutions_match_the_reference(int cin, int cout, int size, int k, int stride, int pad, int dil, int groups, int batch) =>
        CheckConvolution(cin, cout, size, k, stride, pad, dil, groups, batch);

    /// <summary>
    /// One image of few positions and many channels goes through the product turned around (positions as the rows of
    /// A, <see cref="ConvPositionRows"/>): ResNet's 512 channels at 7×7 (3×3 of stride 1 and 2, 1×1 of stride 2),
    /// position counts of a few rows and a partial last tile, channels short of a whole panel, dilation; each with no
    /// epilogue, a ReLU and the residual add with a ReLU, on one and two threads, against the reference interpreter.
    /// </summary>
    [Theory]
    [InlineData(256, 512, 7, 7, 3, 1, 1, 1)]
    [InlineData(128, 512, 14, 14, 3, 2, 1, 1)]
    [InlineData(256, 512, 14, 14, 1, 2, 0, 1)]
    [InlineData(40, 96, 5, 7, 3, 1, 1, 1)]
    [InlineData(33, 70, 3, 5, 3, 1, 1, 1)]
    [InlineData(16, 64, 1, 3, 3, 1, 1, 1)]
    [InlineData(24, 64, 6, 8, 3, 1, 2, 2)]
    public void Turned_products_match_the_reference(int cin, int cout, int height, int width, int k, int stride, int pad, int dil)
    {
        // The turned product runs with the 512-bit microkernel only (where it was measured).
        var kind = SgemmKernelSelector.Best;
        var g = Geometry(cin, height, width, k, stride, pad, dil, kind);
        Assert.True(
            ConvPositionRows.Choose(g, 1, cout, 1, kind) == (kind == SgemmKernelKind.Vector512),
            $"{cin}→{cout} at {height}×{width}: the turned product is not taken with the {kind} microkernel");
        CheckConvolution(cin, cout, height, k, stride, pad, dil, 1, 1, width);
    }

    /// <summary>
    /// The turned product is taken only for one image of one group whose padded multiply-adds it cuts by the margin:
    /// ResNet's layer 4 at batch 1 yes; the same at batch 2, with two groups, or 256 channels at 14×14 (196 positions,
    /// seven panels of 32 against 17 tiles of 12) or with the 256-bit microkernel not.
    /// </summary>
    [Fact]
    public void The_turned_product_is_taken_where_it_saves_work()
    {
        var kind = SgemmKernelKind.Vector512;
        var layer4 = Geometry(512, 7, 7, 3, 1, 1, 1, kind);
        Assert.True(ConvPositionRows.Choose(layer4, 1, 512, 1, kind));
        Assert.False(ConvPositionRows.Choose(layer4, 1, 512, 2, kind));
        Assert.False(ConvPositionRows.Choose(Geometry(256, 7, 7, 3, 1, 1, 1, kind), 2, 256, 1, kind));
        Assert.False(ConvPositionRows.Choose(Geometry(256, 14, 14, 3, 1, 1, 1, kind), 1, 256, 1, kind));
        var narrow = SgemmKernelKind.Vector256;
        Assert.False(ConvPositionRows.Choose(Geometry(512, 7, 7, 3, 1, 1, 1, narrow), 1, 512, 1, narrow));
    }

    private static ConvPanels Geometry(int cin, int h, int w, int k, int stride, int pad, int dil, SgemmKernelKind kind)
    {
        long oh = ((h + (2L * pad) - ((k - 1L) * dil) - 1) / stride) + 1, ow = ((w + (2L * pad) - ((k - 1L) * dil) - 1) / stride) + 1;
        return new ConvPanels
        {
            H = h, W = w, KH = k, KW = k, OH = oh, OW = ow, SH = stride, SW = stride, PH = pad, PW = pad, DH = dil, DW = dil,
            Rows = (long)cin * k * k, Nr = SgemmKernelSelector.PanelWidth(kind),
        };
    }

    private static void CheckConvolution(int cin, int cout, int size, int k, int stride, int pad, int dil, int groups, int batch, int? width = null)
    {
        int w2 = width ?? size + 2;
        var rng = new Random((cin * 31) + (size * 7) + k + stride);
        for (int tail = 0; tail < 3; tail++)
        {
            var x = Input("x", DType.F32, Shape.Of(batch, cin, size, w2));
            var w = Constant(CpuHarness.Random(rng, DType.F32, [cout, cin / groups, k, k], -0.3, 0.3), "w");
            var b = tail == 1 ? null : Constant(CpuHarness.Random(rng, DType.F32, [cout], -1, 1), "b");
            var conv = Conv(x, w, b, [stride, stride], [pad, pad], [dil, dil], groups);
            var r = Input("r", DType.F32, conv.Shape);
            var y = tail switch
            {
                0 => conv,
                1 => Unary(Op.Relu, conv),
                _ => Unary(Op.Relu, Binary(Op.Add, conv, r)),
            };
            var graph = new Graph([x, r], [y]);
            int[] rs = [.. conv.Shape.Select(d => (int)d.TryGetConstant()!.Value)];
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [batch, cin, size, w2], -1, 1), CpuHarness.Random(rng, DType.F32, rs, -1, 1)];
            foreach (int threads in new[] { 1, 2 })
            {
                CpuHarness.CheckAgainstReference(graph, ins, 1e-4, 1e-4, threads: threads);
            }

            string listing = CpuHarness.Compile(graph, optLevel: 2).Describe();
            Assert.Single(listing.Split('\n'), l => l.Contains("rt:conv_gemm", StringComparison.Ordinal));
        }
    }

    private static unsafe void Pack(ConvPanels g, float[] x, long panel, float[] buffer)
    {
        fixed (float* src = x)
        fixed (float* dst = buffer)
        {
            g.Pack(src, panel, dst + Guard);
        }
    }
}
