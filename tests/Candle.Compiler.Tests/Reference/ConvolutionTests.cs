using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class ConvolutionTests
{
    private static HostTensor Conv(HostTensor x, HostTensor w, HostTensor? b, int[] stride, int[] pad, int[] dil, int groups) =>
        b is null
            ? Run(i => IrBuilder.Conv(i[0], i[1], null, stride, pad, dil, groups), x, w)
            : Run(i => IrBuilder.Conv(i[0], i[1], i[2], stride, pad, dil, groups), x, w, b);

    private static HostTensor ConvT(HostTensor x, HostTensor w, int[] stride, int[] pad, int[] outPad, int[] dil, int groups) =>
        Run(i => IrBuilder.ConvTranspose(i[0], i[1], null, stride, pad, outPad, dil, groups), x, w);

    [Fact]
    public void Conv1dHandComputed()
    {
        var x = F32([1, 2, 3, 4], 1, 1, 4);
        var w = F32([1, 0, -1], 1, 1, 3);
        // cross-correlation: y[i] = x[i] − x[i+2]
        Assert.Equal(new[] { -2.0, -2 }, D(Conv(x, w, null, [1], [0], [1], 1)));
        Assert.Equal(new[] { -2.0, -2, -2, 3 }, D(Conv(x, w, null, [1], [1], [1], 1)));
        Assert.Equal(new[] { -2.0, -2 }, D(Conv(x, w, null, [2], [1], [1], 1)));
        // dilation 2 over padding 2: y[i] = x[i−2] − x[i+2]
        Assert.Equal(new[] { -3.0, -4, 1, 2 }, D(Conv(x, w, null, [1], [2], [2], 1)));
        Assert.Equal(new[] { 8.0, 8 }, D(Conv(x, w, F32([10], 1), [1], [0], [1], 1)));
    }

    [Fact]
    public void Conv2dWithOneHotKernelIsAShift()
    {
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[1, 5], Gen.Int[1, 5], Gen.Int[0, 1000]).Sample((a, b, h, wdt, seed) =>
        {
            var v = Rand(h * wdt, seed);
            var k = new float[9];
            k[(a * 3) + b] = 1;
            var y = D(Conv(F32(v, 1, 1, h, wdt), F32(k, 1, 1, 3, 3), null, [1, 1], [1, 1], [1, 1], 1));
            for (int i = 0; i < h; i++)
            {
                for (int j = 0; j < wdt; j++)
                {
                    int si = i + a - 1, sj = j + b - 1;
                    double expected = si < 0 || si >= h || sj < 0 || sj >= wdt ? 0 : v[(si * wdt) + sj];
                    Assert.Equal(expected, y[(i * wdt) + j]);
                }
            }
        }, iter: 30);
    }

    [Fact]
    public void GroupedConvKeepsChannelsApart()
    {
        // depthwise: 2 channels, groups 2, kernel [1, 1] scales channel c by w[c]
        var x = F32([1, 2, 3, 4], 1, 2, 2);
        var w = F32([10, -1], 2, 1, 1);
        Assert.Equal(new[] { 10.0, 20, -3, -4 }, D(Conv(x, w, null, [1], [0], [1], 2)));
        // 2 groups of 1 input channel, 2 output channels each
        var w2 = F32([1, 2, 3, 4], 4, 1, 1);
        Assert.Equal(new[] { 1.0, 2, 2, 4, 9, 12, 12, 16 }, D(Conv(x, w2, null, [1], [0], [1], 2)));
    }

    [Fact]
    public void ConvTransposeHandComputed()
    {
        // x = [1, 2], w = [1, 1, 1], stride 2: x0 feeds 0..2, x1 feeds 2..4
        var x = F32([1, 2], 1, 1, 2);
        var w = F32([1, 1, 1], 1, 1, 3);
        Assert.Equal(new[] { 1.0, 1, 3, 2, 2 }, D(ConvT(x, w, [2], [0], [0], [1], 1)));
        Assert.Equal(new[] { 1.0, 3, 2 }, D(ConvT(x, w, [2], [1], [0], [1], 1)));
        Assert.Equal(new[] { 1.0, 3, 2, 2 }, D(ConvT(x, w, [2], [1], [1], [1], 1))); // output padding reveals position 4 of the full result
        var withBias = Run(i => IrBuilder.ConvTranspose(i[0], i[1], i[2], [2], [0], [0], [1], 1), x, w, F32([0.5f], 1));
        Assert.Equal(new[] { 1.5, 1.5, 3.5, 2.5, 2.5 }, D(withBias));
    }

    [Fact]
    public void ConvTransposeIsTheAdjointOfConv()
    {
        // <conv(x, w), y> == <x, conv_transpose(y, w)> for any stride, padding, dilation and groups
        var gen = Gen.Select(Gen.Int[1, 2], Gen.Int[1, 2], Gen.Int[1, 3], Gen.Int[1, 3], Gen.Int[0, 1], Gen.Int[1, 2], Gen.Int[0, 1000]);
        gen.Sample((groups, cinG, coutG, k, pad, stride, seed) =>
        {
            int dil = 1 + (seed % 2);
            int cin = groups * cinG, cout = groups * coutG, n = 2;
            int h = 4 + (seed % 3), wd = 3 + (seed % 4);
            if (2 * pad > k) pad = 0;
            var xv = Rand(n * cin * h * wd, seed);
            var wv = Rand(cout * cinG * k * k, seed + 1);
            var x = F32(xv, n, cin, h, wd);
            var w = F32(wv, cout, cinG, k, k);
            var y = Conv(x, w, null, [stride, stride], [pad, pad], [dil, dil], groups);
            var ys = y.ShapeArray();
            var yv = Rand((int)y.ElementCount, seed + 2);
            int OutPad(int len, int o) => len - (((o - 1) * stride) - (2 * pad) + (dil * (k - 1)) + 1);
            var xt = ConvT(F32(yv, ys), w, [stride, stride], [pad, pad], [OutPad(h, ys[2]), OutPad(wd, ys[3])], [dil, dil], groups);
            Assert.Equal(x.ShapeArray(), xt.ShapeArray());
            double lhs = D(y).Select((v, i) => v * yv[i]).Sum();
            double rhs = D(xt).Select((v, i) => v * xv[i]).Sum();
            Assert.Equal(lhs, rhs, 1e-4);
        }, iter: 30);
    }

    [Fact]
    public void ConvInHalfAndDouble()
    {
        var x = Of(DType.F16, [1, 2, 3, 4], 1, 1, 4);
        var w = Of(DType.F16, [1, 0, -1], 1, 1, 3);
        var r = Conv(x, w, null, [1], [0], [1], 1);
        Assert.Equal(DType.F16, r.DType);
        Assert.Equal(new[] { -2.0, -2 }, D(r));
        var d = Conv(F64([1, 2, 3, 4], 1, 1, 4), F64([0.5, 0.5], 1, 1, 2), null, [1], [0], [1], 1);
        Assert.Equal(new[] { 1.5, 2.5, 3.5 }, D(d));
    }

    [Fact]
    public void MaxPoolTreatsPaddingAsMinusInfinityAndPropagatesNaN()
    {
        var x = F32([1, 3, 2, 5, 4], 1, 1, 5);
        Assert.Equal(new[] { 3.0, 5 }, D(Run(i => IrBuilder.Pool(Op.MaxPool, i[0], [2], [2], [0]), x)));
        Assert.Equal(new[] { 3.0, 5, 5 }, D(Run(i => IrBuilder.Pool(Op.MaxPool, i[0], [3], [2], [1]), x)));
        var neg = F32([-1, -3, -2], 1, 1, 3);
        Assert.Equal(new[] { -1.0, -2 }, D(Run(i => IrBuilder.Pool(Op.MaxPool, i[0], [2], [2], [1]), neg)));
        var nan = F32([1, float.NaN, 2, 3], 1, 1, 4);
        var r = D(Run(i => IrBuilder.Pool(Op.MaxPool, i[0], [2], [2], [0]), nan));
        Assert.True(double.IsNaN(r[0]));
        Assert.Equal(3.0, r[1]);
    }

    [Fact]
    public void AvgPoolCountsPaddingPerAttribute()
    {
        var x = F32([1, 2, 3, 4], 1, 1, 4);
        Assert.Equal(new[] { 1.5, 3.5 }, D(Run(i => IrBuilder.Pool(Op.AvgPool, i[0], [2], [2], [0]), x)));
        Close(new[] { 1.0, 2, 3, 7 / 3.0 }, D(Run(i => IrBuilder.Pool(Op.AvgPool, i[0], [3], [1], [1], countIncludePad: true), x)), 1e-6);
        Close(new[] { 1.5, 2, 3, 3.5 }, D(Run(i => IrBuilder.Pool(Op.AvgPool, i[0], [3], [1], [1], countIncludePad: false), x)), 1e-6);
    }

    [Fact]
    public void Pool2d()
    {
        // 4x4 image 0..15, 2x2 windows stride 2
        var x = F32([.. Enumerable.Range(0, 16).Select(i => (float)i)], 1, 1, 4, 4);
        Assert.Equal(new[] { 5.0, 7, 13, 15 }, D(Run(i => IrBuilder.Pool(Op.MaxPool, i[0], [2, 2], [2, 2], [0, 0]), x)));
        Assert.Equal(new[] { 2.5, 4.5, 10.5, 12.5 }, D(Run(i => IrBuilder.Pool(Op.AvgPool, i[0], [2, 2], [2, 2], [0, 0]), x)));
    }
}
