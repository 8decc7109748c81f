using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// A float32 2-d convolution, alone or followed by a ReLU, read only by a max pool (directly or through a −∞ pad the
/// pool absorbs) is one <c>rt:conv_gemm_max_pool</c> step that writes only the pooled value: the reference interpreter
/// on the graph as written is the oracle, over random geometries (odd sizes, strides, paddings, dilations, groups, bias
/// or none, constant weights or weights given as inputs, pool windows partly in the padding), shapes large enough for
/// several bands of rows, weights that take the unbanded path, and one and two threads. The whole class runs again
/// under <c>DOTNET_EnableAVX512=0</c> for the AVX2 paths.
/// </summary>
public sealed class ConvMaxPoolTests
{
    private const int Iter = 40;
    private const string Fused = "rt:conv_gemm_max_pool";

    [Fact]
    public void Convolutions_pooled_in_one_step_match_the_reference_on_random_geometries()
    {
        Gen.Select(Gen.Int[1, 2], Gen.Int[0, 1], Gen.Int[0, 1], Gen.Int[0, int.MaxValue]).Sample((groups, relu, constant, seed) =>
        {
            var rng = new Random(seed);
            int cin = groups * rng.Next(1, 5), cout = groups * rng.Next(1, 13), k = rng.Next(1, 8);
            int stride = rng.Next(1, 3), pad = rng.Next(0, (k / 2) + 1), dil = rng.Next(1, 3);
            int pk = rng.Next(1, 5), ps = rng.Next(1, 4), pp = rng.Next(0, (pk / 2) + 1);
            int h = ((k - 1) * dil) + (2 * pk) + rng.Next(1, 30), w = ((k - 1) * dil) + (2 * pk) + rng.Next(1, 30);
            int[] xs = [rng.Next(1, 3), cin, h, w];
            int[] ws = [cout, cin / groups, k, k];
            var x = Input("x", DType.F32, Shape.Of(xs));
            var wIn = Input("w", DType.F32, Shape.Of(ws));
            var weight = CpuHarness.Random(rng, DType.F32, ws, -1, 1);
            var b = rng.Next(3) != 0 ? Constant(CpuHarness.Random(rng, DType.F32, [cout], -1, 1), "bias") : null;
            var conv = Conv(x, constant == 1 ? Constant(weight, "weight") : wIn, b, [stride, stride], [pad, pad], [dil, dil], groups);
            var pooled = Pool(Op.MaxPool, relu == 1 ? Unary(Op.Relu, conv) : conv, [pk, pk], [ps, ps], [pp, pp]);
            var g = new Graph([x, wIn], [pooled]);
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs, -1, 1), weight];
            CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: 1 + (seed % 2));
            string listing = CpuHarness.Compile(g, optLevel: 2).Describe();
            Assert.Contains(Fused, listing, StringComparison.Ordinal);
            Assert.DoesNotContain("rt:pool", listing, StringComparison.Ordinal);
        }, iter: Iter);
    }

    /// <summary>
    /// ResNet's stem (7×7 of stride 2 and padding 3, 64 channels, ReLU, max pool 3×3 of stride 2 and padding 1) on an
    /// image whose 64 channels of rows take several bands, with a 2×2 pool of stride 2 (no rows shared by bands) and a
    /// 3×3 pool of stride 1 (two shared), batch 1 and 2, one and two threads.
    /// </summary>
    [Theory]
    [InlineData(1, 3, 2, 1, 97, 190)]
    [InlineData(2, 3, 2, 1, 61, 113)]
    [InlineData(1, 2, 2, 0, 90, 150)]
    [InlineData(1, 3, 1, 1, 75, 120)]
    public void Stem_shapes_over_several_bands_match_the_reference(int batch, int pk, int ps, int pp, int h, int w)
    {
        var rng = new Random(h + w);
        int[] xs = [batch, 3, h, w];
        var x = Input("x", DType.F32, Shape.Of(xs));
        var weight = Constant(CpuHarness.Random(rng, DType.F32, [64, 3, 7, 7], -0.2, 0.2), "w");
        var b = Constant(CpuHarness.Random(rng, DType.F32, [64], -1, 1), "b");
        var conv = Conv(x, weight, b, [2, 2], [3, 3], [1, 1], 1);
        var g = new Graph([x], [Pool(Op.MaxPool, Unary(Op.Relu, conv), [pk, pk], [ps, ps], [pp, pp])]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs, -1, 1)];
        foreach (int threads in new[] { 1, 2 }) CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: threads);
        string listing = CpuHarness.Compile(g, optLevel: 2).Describe();
        Assert.Single(listing.Split('\n'), l => l.Contains(Fused, StringComparison.Ordinal));
        Assert.DoesNotContain("rt:pool", listing, StringComparison.Ordinal);
    }

    /// <summary>
    /// Convolutions the kernel does not compute by bands (a weight too large for a core's L2, a 3×3 window of stride 1
    /// that goes through Winograd, two groups) are computed whole and pooled after: still the reference's values.
    /// </summary>
    [Theory]
    [InlineData(256, 128, 3, 1, 9)]
    [InlineData(32, 32, 3, 1, 24)]
    [InlineData(8, 12, 3, 2, 17)]
    public void Convolutions_pooled_after_a_whole_result_match_the_reference(int cin, int cout, int k, int groups, int size)
    {
        var rng = new Random(cin + size);
        int[] xs = [2, cin, size, size];
        var x = Input("x", DType.F32, Shape.Of(xs));
        var weight = Constant(CpuHarness.Random(rng, DType.F32, [cout, cin / groups, k, k], -0.2, 0.2), "w");
        var conv = Conv(x, weight, null, [1, 1], [1, 1], [1, 1], groups);
        var g = new Graph([x], [Pool(Op.MaxPool, Unary(Op.Relu, conv), [3, 3], [2, 2], [1, 1])]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs, -1, 1)];
        foreach (int threads in new[] { 1, 2 }) CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: threads);
        Assert.Contains(Fused, CpuHarness.Compile(g, optLevel: 2).Describe(), StringComparison.Ordinal);
    }

    /// <summary>
    /// An exporter's SAME padding before the pool (a −∞ pad of one row and column after) and a zero pad before the
    /// convolution are both absorbed: one step, no fill, the reference's values.
    /// </summary>
    [Fact]
    public void Pads_before_the_convolution_and_the_pool_are_absorbed()
    {
        var rng = new Random(7);
        int[] xs = [1, 3, 40, 37];
        var x = Input("x", DType.F32, Shape.Of(xs));
        var weight = Constant(CpuHarness.Random(rng, DType.F32, [16, 3, 7, 7], -0.2, 0.2), "w");
        var conv = Conv(Pad(x, [2, 3, 2, 3]), weight, null, [2, 2], [0, 0], [1, 1], 1);
        var pooled = Pool(Op.MaxPool, Pad(Unary(Op.Relu, conv), [0, 1, 0, 1], double.NegativeInfinity), [3, 3], [2, 2], [0, 0]);
        var g = new Graph([x], [pooled]);
        foreach (int threads in new[] { 1, 2 }) CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, xs, -1, 1)], 1e-4, 1e-4, threads: threads);
        string listing = CpuHarness.Compile(g, optLevel: 2).Describe();
        Assert.Contains(Fused, listing, StringComparison.Ordinal);
        Assert.DoesNotContain("rt:fill", listing, StringComparison.Ordinal);
        Assert.DoesNotContain("rt:pool", listing, StringComparison.Ordinal);
    }

    /// <summary>
    /// Pools the step does not take stay apart with the reference's values: a convolution also read elsewhere (a graph
    /// output), an average pool, a residual add before the pool, a −∞ pad also read elsewhere.
    /// </summary>
    [Fact]
    public void Other_pools_are_not_fused_and_still_match_the_reference()
    {
        var rng = new Random(3);
        int[] xs = [2, 4, 19, 16];
        var x = Input("x", DType.F32, Shape.Of(xs));
        var r = Input("r", DType.F32, Shape.Of(2, 6, 19, 16));
        int convs = 0;

        // Each convolution its own weight, so that no two are one node.
        Node C() => Conv(x, Constant(CpuHarness.Random(rng, DType.F32, [6, 4, 3, 3], -1, 1), $"w{convs++}"), null, [1, 1], [1, 1], [1, 1], 1);
        var shared = Unary(Op.Relu, C());
        var padded = Pad(C(), [0, 1, 0, 1], double.NegativeInfinity);
        int[] k3 = [3, 3], s2 = [2, 2], p1 = [1, 1], p0 = [0, 0];
        var g = new Graph([x, r], [
            Pool(Op.MaxPool, shared, k3, s2, p1), shared,
            Pool(Op.AvgPool, C(), k3, s2, p1),
            Pool(Op.MaxPool, Unary(Op.Relu, Binary(Op.Add, C(), r)), k3, s2, p1),
            Pool(Op.MaxPool, padded, k3, s2, p0), padded,
        ]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs, -1, 1), CpuHarness.Random(rng, DType.F32, [2, 6, 19, 16], -1, 1)];
        CpuHarness.CheckAgainstReference(g, ins, 1e-4, 1e-4, threads: 2);
        Assert.DoesNotContain(Fused, CpuHarness.Compile(g, optLevel: 2).Describe(), StringComparison.Ordinal);
    }
}
