using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// A float32 convolution followed by a ReLU, a residual add (either operand order), or the add then the ReLU is one
/// <c>rt:conv_gemm</c> step at O2 that applies them to its finished tiles: the reference interpreter on the graph as
/// written is the oracle, over random geometries (1-, 2- and 3-d, strides, paddings, dilations, groups, bias or none,
/// constant weights packed once or weights given as inputs, one and two threads).
/// </summary>
public sealed class ConvEpilogueTests
{
    private const int Iter = 40;

    [Fact]
    public void Residual_and_relu_epilogues_match_the_reference_on_random_geometries()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[1, 3], Gen.Int[0, 3], Gen.Int[0, int.MaxValue]).Sample((sp, groups, tail, seed) =>
        {
            var rng = new Random(seed);
            int cin = groups * rng.Next(1, 6), cout = groups * rng.Next(1, 9), k = rng.Next(1, 4);
            int stride = rng.Next(1, 3), pad = rng.Next(0, 2), dil = rng.Next(1, 3);
            var spatial = Enumerable.Range(0, sp).Select(_ => rng.Next(k * dil, (k * dil) + (sp == 3 ? 3 : 12))).ToArray();
            int[] xs = [rng.Next(1, 3), cin, .. spatial];
            int[] ws = [cout, cin / groups, .. Enumerable.Repeat(k, sp)];
            int[] R(int v) => [.. Enumerable.Repeat(v, sp)];
            bool constant = rng.Next(2) == 0, withBias = rng.Next(3) != 0;
            var x = Input("x", DType.F32, Shape.Of(xs));
            var wIn = Input("w", DType.F32, Shape.Of(ws));
            var weight = CpuHarness.Random(rng, DType.F32, ws, -1, 1);
            var w = constant ? Constant(weight, "weight") : wIn;
            var b = withBias ? Constant(CpuHarness.Random(rng, DType.F32, [cout], -1, 1), "bias") : null;
            var conv = Conv(x, w, b, R(stride), R(pad), R(dil), groups);
            var r = Input("r", DType.F32, conv.Shape);
            var y = tail switch
            {
                0 => Unary(Op.Relu, conv),
                1 => Binary(Op.Add, conv, r),
                2 => Binary(Op.Add, r, conv),
                _ => Unary(Op.Relu, Binary(Op.Add, conv, r)),
            };
            var g = new Graph([x, wIn, r], [y]);
            int[] rs = [.. conv.Shape.Select(d => (int)d.TryGetConstant()!.Value)];
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs, -1, 1), weight, CpuHarness.Random(rng, DType.F32, rs, -1, 1)];
            CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: 1 + (seed % 2));
            string listing = CpuHarness.Compile(g, optLevel: 2).Describe();
            Assert.True(!listing.Contains("gen:", StringComparison.Ordinal) && !listing.Contains("rt:fused", StringComparison.Ordinal), listing);
        }, iter: Iter);
    }

    /// <summary>
    /// ResNet's shapes large enough for both of the kernel's splits (column blocks; every image's panels with the
    /// weight's rows split), batch 1 and 3, the residual read in place of the shortcut and an absorbed SAME pad before.
    /// </summary>
    [Theory]
    [InlineData(64, 64, 28, 1, 1)]
    [InlineData(128, 256, 14, 2, 3)]
    [InlineData(256, 512, 7, 2, 1)]
    [InlineData(32, 32, 9, 1, 2)]
    public void Residual_blocks_in_panels_match_the_reference(int cin, int cout, int size, int stride, int batch)
    {
        var rng = new Random(cin + size);
        var x = Input("x", DType.F32, Shape.Of(batch, cin, size, size));
        var w = Constant(CpuHarness.Random(rng, DType.F32, [cout, cin, 3, 3], -0.2, 0.2), "w");
        var b = Constant(CpuHarness.Random(rng, DType.F32, [cout], -1, 1), "b");
        var input = stride == 2 ? Pad(x, [0, 1, 0, 1]) : x;
        var conv = Conv(input, w, b, [stride, stride], stride == 2 ? [0, 0] : [1, 1], [1, 1], 1);
        int outSize = (int)conv.Shape[2].TryGetConstant()!.Value;
        var shortcut = Input("s", DType.F32, conv.Shape);
        var g = new Graph([x, shortcut], [Unary(Op.Relu, Binary(Op.Add, conv, shortcut))]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [batch, cin, size, size], -1, 1), CpuHarness.Random(rng, DType.F32, [batch, cout, outSize, outSize], -1, 1)];
        foreach (int threads in new[] { 1, 2 })
        {
            CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: threads);
        }

        string listing = CpuHarness.Compile(g, optLevel: 2).Describe();
        Assert.Single(listing.Split('\n'), l => l.Contains("rt:conv_gemm", StringComparison.Ordinal));
        Assert.DoesNotContain("rt:fill", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("gen:", listing, StringComparison.Ordinal);
    }

    /// <summary>
    /// Tails the epilogue does not take stay elementwise kernels after the convolution, with the reference's values: a
    /// convolution also read elsewhere, a subtraction, an add of a broadcast operand, a ReLU before the add, a
    /// convolution added to itself.
    /// </summary>
    [Fact]
    public void Other_tails_are_not_fused_and_still_match_the_reference()
    {
        var rng = new Random(3);
        var x = Input("x", DType.F32, Shape.Of(2, 6, 9, 8));
        var w = Constant(CpuHarness.Random(rng, DType.F32, [10, 6, 3, 3], -1, 1), "w");
        Node C() => Conv(x, w, null, [1, 1], [1, 1], [1, 1], 1);
        var r = Input("r", DType.F32, Shape.Of(2, 10, 9, 8));
        var row = Input("row", DType.F32, Shape.Of(8));
        var shared = C();
        var self = C();
        var g = new Graph([x, r, row], [
            Unary(Op.Relu, shared), shared,
            Binary(Op.Sub, C(), r),
            Unary(Op.Relu, Binary(Op.Add, C(), Expand(row, Shape.Of(2, 10, 9, 8)))),
            Binary(Op.Add, Unary(Op.Relu, C()), r),
            Binary(Op.Add, self, self),
        ]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [2, 6, 9, 8], -1, 1), CpuHarness.Random(rng, DType.F32, [2, 10, 9, 8], -1, 1), CpuHarness.Random(rng, DType.F32, [8], -1, 1)];
        CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: 2);
    }
}
