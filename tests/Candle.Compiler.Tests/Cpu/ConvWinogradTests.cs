using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// 3×3 convolutions of stride 1 with a constant weight go through Winograd's F(4×4, 3×3) or F(2×2, 3×3) where it
/// saves products: the
/// reference interpreter on the graph as written is the oracle (1e-4 absolute and relative), over random geometries
/// (1, 2 or 3 blocks of 8 input channels and odd counts, output channels not a multiple of the panel height, paddings
/// 0 to 2 and an absorbed asymmetric pad, odd image sizes that crop the last tiles, batch up to 3, a bias or none, each
/// epilogue or none, one and two threads). Each geometry is checked to be one the kernel sends through Winograd, and
/// both forms to be drawn, so the test cannot pass on the unfolded-window path alone.
/// </summary>
public sealed class ConvWinogradTests
{
    private const int Iter = 30;

    [Fact]
    public void Winograd_convolutions_match_the_reference_on_random_geometries()
    {
        var forms = new HashSet<int>();
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 4], Gen.Int[0, int.MaxValue]).Sample((channels, tail, seed) =>
        {
            var rng = new Random(seed);
            int cin = channels switch { 0 => 8, 1 => 16, 2 => 24, 3 => rng.Next(9, 40), _ => rng.Next(8, 13) };
            int cout = rng.Next(8, 41), batch, pad, h, w;
            bool asymmetric, withBias = rng.Next(3) != 0;
            int nr = SgemmKernelSelector.PanelWidth(SgemmKernelSelector.Best), edge = SgemmKernelSelector.EdgeWidth(SgemmKernelSelector.Best);
            do
            {
                // Drawn again until the kernel would take Winograd (small images of one batch would not).
                batch = rng.Next(1, 4);
                pad = rng.Next(0, 3);
                asymmetric = rng.Next(4) == 0;
                h = rng.Next(9, 31);
                w = rng.Next(9, 31);
            }
            while (ConvWinograd.Supported && ConvWinograd.Choose(Geometry(asymmetric ? h - 1 : h - 2 + (2 * pad), asymmetric ? w - 1 : w - 2 + (2 * pad)), 1, cin, cout, batch, nr, edge) == 0);

            var x = Input("x", DType.F32, Shape.Of(batch, cin, h, w));
            var weight = Constant(CpuHarness.Random(rng, DType.F32, [cout, cin, 3, 3], -0.5, 0.5), "weight");
            var b = withBias ? Constant(CpuHarness.Random(rng, DType.F32, [cout], -1, 1), "bias") : null;

            // An asymmetric pad (nothing before, one after) is absorbed into the convolution's reads.
            var conv = asymmetric
                ? Conv(Pad(x, [0, 1, 0, 1]), weight, b, [1, 1], [0, 0], [1, 1], 1)
                : Conv(x, weight, b, [1, 1], [pad, pad], [1, 1], 1);
            int oh = (int)conv.Shape[2].TryGetConstant()!.Value, ow = (int)conv.Shape[3].TryGetConstant()!.Value;
            int form = ConvWinograd.Choose(Geometry(oh, ow), 1, cin, cout, batch, nr, edge);
            Assert.True(!ConvWinograd.Supported || form != 0, $"{batch}x{cin}x{oh}x{ow} is not a Winograd geometry");
            lock (forms) forms.Add(form);

            var r = Input("r", DType.F32, conv.Shape);
            var y = tail switch
            {
                0 => conv,
                1 => Unary(Op.Relu, conv),
                2 => Binary(Op.Add, conv, r),
                3 => Binary(Op.Add, r, conv),
                _ => Unary(Op.Relu, Binary(Op.Add, conv, r)),
            };
            var g = new Graph([x, r], [y]);
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [batch, cin, h, w], -1, 1), CpuHarness.Random(rng, DType.F32, [batch, cout, oh, ow], -1, 1)];
            CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: 1 + (seed % 2));
        }, iter: Iter);
        if (ConvWinograd.Supported) Assert.Equal([2, 4], forms.Order());
    }

    /// <summary>
    /// ResNet-18's stride-1 layers (64 channels at 56×56 down to 512 at 7×7, batch 1 to 4; F(4×4, 3×3) at 56 and 28,
    /// F(2×2, 3×3) for two images of 14×14 and four of 7×7, unfolded windows for one image of 7×7, whose weight read
    /// outweighs the products Winograd saves), weights and inputs of a trained network's scale, each with the residual
    /// block's add and ReLU: within 1e-4 of the reference.
    /// </summary>
    [Theory]
    [InlineData(64, 56, 1, 4)]
    [InlineData(128, 28, 1, 4)]
    [InlineData(256, 14, 2, 2)]
    [InlineData(512, 7, 4, 2)]
    [InlineData(512, 7, 1, 0)]
    public void ResNet_layers_match_the_reference(int channels, int size, int batch, int form)
    {
        var rng = new Random(channels + size);
        var kind = SgemmKernelSelector.Best;
        Assert.Equal(ConvWinograd.Supported ? form : 0, ConvWinograd.Choose(Geometry(size, size), 1, channels, channels, batch, SgemmKernelSelector.PanelWidth(kind), SgemmKernelSelector.EdgeWidth(kind)));
        double scale = Math.Sqrt(2.0 / (9 * channels)) * Math.Sqrt(3);
        var x = Input("x", DType.F32, Shape.Of(batch, channels, size, size));
        var w = Constant(CpuHarness.Random(rng, DType.F32, [channels, channels, 3, 3], -scale, scale), "w");
        var b = Constant(CpuHarness.Random(rng, DType.F32, [channels], -0.5, 0.5), "b");
        var conv = Conv(x, w, b, [1, 1], [1, 1], [1, 1], 1);
        var shortcut = Input("s", DType.F32, conv.Shape);
        var g = new Graph([x, shortcut], [Unary(Op.Relu, Binary(Op.Add, conv, shortcut))]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [batch, channels, size, size], 0, 2), CpuHarness.Random(rng, DType.F32, [batch, channels, size, size], -1, 1)];
        CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: 2);
    }

    /// <summary>
    /// The form by counted products and weight reads, per channel pair (hand-computed below; panels of 16 computed whole,
    /// then AVX-512's panels of 32 with edges in vectors of 16): one 4×4 image is a quarter panel of F(4×4) tiles but a
    /// third of the unfolded windows' panel, so neither Winograd form saves; strides, groups and few channels are never
    /// Winograd; one 7×7 image of 512 channels stays unfolded (9·64 + 9·36 = 900, three quarters 675, against F(2×2)'s
    /// 16·16·1.1 + 16·36 = 857.6), eight go through F(4×4) (36·32·1.15 + 36·36 = 2621.4 against F(2×2)'s 2828.8 and
    /// three quarters of 4932); one 14×14 image is unfolded when its last panel is computed in vectors of 16 (F(2×2):
    /// 16·64·1.1 + 576 = 1702.4 against three quarters of 9·208 + 324 = 2196) but F(2×2) when it is computed whole
    /// (against three quarters of 9·224 + 324 = 2340).
    /// </summary>
    [Fact]
    public void The_form_follows_the_products_it_saves()
    {
        int Expect(int form) => ConvWinograd.Supported ? form : 0;
        Assert.Equal(0, ConvWinograd.Choose(Geometry(4, 4), 1, 64, 64, 1, 16, 16));
        Assert.Equal(0, ConvWinograd.Choose(Geometry(7, 7) with { SH = 2, SW = 2 }, 1, 64, 64, 8, 16, 16));
        Assert.Equal(0, ConvWinograd.Choose(Geometry(56, 56), 2, 64, 64, 1, 16, 16));
        Assert.Equal(0, ConvWinograd.Choose(Geometry(56, 56), 1, 4, 64, 1, 16, 16));
        Assert.Equal(Expect(4), ConvWinograd.Choose(Geometry(56, 56), 1, 64, 64, 1, 16, 16));
        Assert.Equal(0, ConvWinograd.Choose(Geometry(7, 7), 1, 512, 512, 1, 16, 16));
        Assert.Equal(Expect(4), ConvWinograd.Choose(Geometry(7, 7), 1, 512, 512, 8, 16, 16));
        Assert.Equal(0, ConvWinograd.Choose(Geometry(7, 7), 1, 512, 512, 1, 32, 16));
        Assert.Equal(Expect(4), ConvWinograd.Choose(Geometry(7, 7), 1, 512, 512, 8, 32, 16));
        Assert.Equal(0, ConvWinograd.Choose(Geometry(14, 14), 1, 256, 256, 1, 32, 16));
        Assert.Equal(Expect(2), ConvWinograd.Choose(Geometry(14, 14), 1, 256, 256, 1, 32, 32));
    }

    private static ConvPanels Geometry(int oh, int ow) => new() { KH = 3, KW = 3, OH = oh, OW = ow, SH = 1, SW = 1, DH = 1, DW = 1 };
}
