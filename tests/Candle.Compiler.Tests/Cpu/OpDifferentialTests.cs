using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu;
using Candle.Runtime.Kernels.Gemm;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Every non-elementwise op against the reference interpreter on random shapes (including empty and size-1 dims)
/// and, where it matters, non-contiguous inputs. Tolerances: f32 results of long sums (reductions, norms, matmul,
/// convolution) rtol 1e-5 and atol 1e-5·√n; f16/bf16 one rounding step of the format (relative) plus the same.
/// </summary>
public class OpDifferentialTests
{
    private const int Iter = 60;
    private static readonly DType[] FloatTypes = [DType.F32, DType.F16, DType.BF16];

    private static (double, double) Tol(DType dt, double n = 16) => dt switch
    {
        DType.F16 => (4e-3 * Math.Sqrt(n), 4e-3),
        DType.BF16 => (3e-2 * Math.Sqrt(n), 3e-2),
        _ => (1e-5 * Math.Sqrt(n), 1e-5),
    };

    private static int[] Dims(int[] pool, int rank) => [.. pool.Take(rank)];

    /// <summary>The largest sqrt(mean² + var) / sqrt(var + 1e-5) over the rows of <paramref name="row"/> elements (at least 1).</summary>
    private static double Conditioning(double[] x, int row)
    {
        double worst = 1;
        for (int r = 0; r + row <= x.Length; r += row)
        {
            double mean = 0, sq = 0;
            for (int i = r; i < r + row; i++) mean += x[i];
            mean /= row;
            for (int i = r; i < r + row; i++) sq += (x[i] - mean) * (x[i] - mean);
            double var = sq / row;
            worst = Math.Max(worst, Math.Sqrt((mean * mean) + var) / Math.Sqrt(var + 1e-5));
        }

        return worst;
    }

    [Fact]
    public void Reductions()
    {
        Op[] ops = [Op.Sum, Op.Mean, Op.Max, Op.Min, Op.Prod, Op.ArgMax, Op.ArgMin];
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 7].Array[4], Gen.Int[0, int.MaxValue]).Sample((rank, pool, seed) =>
        {
            var rng = new Random(seed);
            var op = ops[rng.Next(ops.Length)];
            var dt = FloatTypes[rng.Next(3)];
            var shape = Dims(pool, rank);
            var x = Input("x", dt, Shape.Of(shape));
            Node src = rank > 1 && rng.Next(2) == 0 ? Transpose(x, 0, rank - 1) : x;
            bool keep = rng.Next(2) == 0;
            Node y = op is Op.ArgMax or Op.ArgMin
                ? ArgReduce(op, src, rng.Next(rank), keep)
                : Reduce(op, src, Enumerable.Range(0, rank).Where(_ => rng.Next(2) == 0).DefaultIfEmpty(rng.Next(rank)), keep);
            var g = new Graph([x], [y]);
            double lo = op == Op.Prod ? 0.5 : -3, hi = op == Op.Prod ? 1.5 : 3;
            var (atol, rtol) = Tol(dt, shape.Aggregate(1, (a, d) => a * d));
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, dt, shape, lo, hi)], atol, rtol);
        }, iter: Iter);
    }

    [Fact]
    public void IntegerReductionsAndCumSum()
    {
        var x = Input("x", DType.I64, Shape.Of(3, 5));
        var g = new Graph([x], [Reduce(Op.Sum, x, [1]), Reduce(Op.Max, x, [0]), Reduce(Op.Prod, x, [1], true), CumSum(x, 1), CumSum(x, 0), ArgReduce(Op.ArgMax, x, null)]);
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(new Random(2), DType.I64, [3, 5])], 0, 0);
    }

    [Fact]
    public void SoftmaxLogSoftmaxCumSumAlongAnyAxis()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 9].Array[4], Gen.Int[0, int.MaxValue]).Sample((rank, pool, seed) =>
        {
            var rng = new Random(seed);
            var dt = FloatTypes[rng.Next(3)];
            var shape = Dims(pool, rank);
            var x = Input("x", dt, Shape.Of(shape));
            int axis = rng.Next(rank);
            var g = new Graph([x], [Softmax(x, axis), LogSoftmax(x, axis), CumSum(x, axis)]);
            var (atol, rtol) = Tol(dt, shape[axis]);
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, dt, shape)], atol, rtol);
        }, iter: Iter);
    }

    [Fact]
    public void SoftmaxRowsOfEveryLength()
    {
        var x = Input("x", DType.F32, new Shape(3, Dim.Sym("n")));
        var g = new Graph([x], [Softmax(x, 1), LogSoftmax(x, 1), Reduce(Op.Sum, x, [1]), Reduce(Op.Max, x, [1]), Reduce(Op.Mean, x, [1])]);
        var plan = CpuHarness.Compile(g);
        var rng = new Random(1);
        for (int n = 1; n <= 70; n++) CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, [3, n], -10, 10)], 1e-5, 1e-5, plan: plan);
    }

    [Fact]
    public void Norms()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 40].Array[4], Gen.Int[0, int.MaxValue]).Sample((rank, pool, seed) =>
        {
            var rng = new Random(seed);
            var dt = FloatTypes[rng.Next(3)];
            var shape = Dims(pool, rank);
            var x = Input("x", dt, Shape.Of(shape));
            int k = rng.Next(1, rank + 1);
            var pshape = shape.Skip(rank - k).ToArray();
            var w = Input("w", dt, Shape.Of(pshape));
            var b = Input("b", dt, Shape.Of(pshape));
            var rw = Input("rw", dt, Shape.Of(shape[^1]));
            var outs = new List<Node>
            {
                LayerNorm(x, w, b, 1e-5, k), LayerNorm(x, null, null, 1e-5, k), RmsNorm(x, rw, 1e-6), RmsNorm(x, null, 1e-6),
            };
            var g = new Graph([x, w, b, rw], outs);
            HostTensor[] ins = [CpuHarness.Random(rng, dt, shape), CpuHarness.Random(rng, dt, pshape), CpuHarness.Random(rng, dt, pshape), CpuHarness.Random(rng, dt, [shape[^1]])];
            var (atol, rtol) = Tol(dt, 16);
            // Centering a row loses the digits its mean and spread share: the error of (x - mean) / std grows with
            // sqrt(mean² + var) / std, which is unbounded for short rows of nearly equal values.
            double kappa = Conditioning(ins[0].ToFloat64(), pshape.Aggregate(1, (p, d) => p * d));
            CpuHarness.CheckAgainstReference(g, ins, atol * kappa, rtol * kappa);
        }, iter: Iter);
    }

    [Fact]
    public void GroupNorm()
    {
        var x = Input("x", DType.F32, Shape.Of(2, 6, 5, 3));
        var w = Input("w", DType.F32, Shape.Of(6));
        var b = Input("b", DType.F32, Shape.Of(6));
        var g = new Graph([x, w, b], [IrBuilder.GroupNorm(x, 3, w, b, 1e-5), IrBuilder.GroupNorm(x, 2, null, null, 1e-5)]);
        var rng = new Random(7);
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, [2, 6, 5, 3]), CpuHarness.Random(rng, DType.F32, [6]), CpuHarness.Random(rng, DType.F32, [6])], 1e-5, 1e-5);
    }

    [Fact]
    public void MatMulWithBatchesTransposesAndEmptyDims()
    {
        Gen.Select(Gen.Int[0, 3], Gen.Int[0, 9].Array[3], Gen.Int[1, 3].Array[2], Gen.Int[0, int.MaxValue]).Sample((batchRank, mkn, batch, seed) =>
        {
            var rng = new Random(seed);
            var dt = rng.Next(3) == 0 ? DType.F16 : DType.F32;
            var (m, k, n) = (mkn[0], mkn[1], mkn[2]);
            var bdims = batch.Take(Math.Min(batchRank, 2)).ToArray();
            bool ta = rng.Next(2) == 0, tb = rng.Next(2) == 0;
            var aShape = bdims.Concat(ta ? new[] { k, m } : new[] { m, k }).ToArray();
            var bShape = (rng.Next(2) == 0 ? bdims : []).Concat(tb ? new[] { n, k } : new[] { k, n }).ToArray();
            var a = Input("a", dt, Shape.Of(aShape));
            var b = Input("b", dt, Shape.Of(bShape));
            var av = ta ? Transpose(a, -1, -2) : a;
            var bv = tb ? Transpose(b, -1, -2) : b;
            var g = new Graph([a, b], [MatMul(av, bv)]);
            var (atol, rtol) = Tol(dt, Math.Max(k, 1));
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, dt, aShape), CpuHarness.Random(rng, dt, bShape)], atol, rtol);
        }, iter: Iter);
    }

    [Fact]
    public void MatMulVectorShapes()
    {
        var rng = new Random(3);
        var v = Input("v", DType.F32, Shape.Of(37));
        var m = Input("m", DType.F32, Shape.Of(37, 19));
        var u = Input("u", DType.F32, Shape.Of(19));
        var g = new Graph([v, m, u], [MatMul(v, m), MatMul(m, u), MatMul(v, MatMul(m, u))]);
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, [37]), CpuHarness.Random(rng, DType.F32, [37, 19]), CpuHarness.Random(rng, DType.F32, [19])], 1e-4, 1e-5);
    }

    [Fact]
    public void Convolutions()
    {
        Gen.Select(Gen.Int[1, 2], Gen.Int[1, 3], Gen.Int[0, int.MaxValue]).Sample((sp, groups, seed) =>
        {
            var rng = new Random(seed);
            int cin = groups * rng.Next(1, 3), cout = groups * rng.Next(1, 3), k = rng.Next(1, 4);
            int stride = rng.Next(1, 3), pad = rng.Next(0, 2), dil = rng.Next(1, 3);
            var spatial = Enumerable.Range(0, sp).Select(_ => rng.Next(k * dil, (k * dil) + 5)).ToArray();
            int[] xs = [2, cin, .. spatial];
            int[] ws = [cout, cin / groups, .. Enumerable.Repeat(k, sp)];
            var x = Input("x", DType.F32, Shape.Of(xs));
            var w = Input("w", DType.F32, Shape.Of(ws));
            var b = Input("b", DType.F32, Shape.Of(cout));
            int[] R(int v) => [.. Enumerable.Repeat(v, sp)];
            var conv = Conv(x, w, b, R(stride), R(pad), R(dil), groups);
            int[] wts = [cin, cout / groups, .. Enumerable.Repeat(k, sp)];
            var wt = Input("wt", DType.F32, Shape.Of(wts));
            var convT = ConvTranspose(x, wt, null, R(stride), R(0), R(stride > 1 ? 1 : 0), R(dil), groups);
            var maxPool = Pool(Op.MaxPool, x, R(2), R(stride), R(pad > 0 ? 1 : 0));
            var avgPool = Pool(Op.AvgPool, x, R(2), R(stride), R(pad > 0 ? 1 : 0), countIncludePad: seed % 2 == 0);
            var g = new Graph([x, w, b, wt], [conv, convT, maxPool, avgPool, UpsampleNearest(x, R(2))]);
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs), CpuHarness.Random(rng, DType.F32, ws), CpuHarness.Random(rng, DType.F32, [cout]), CpuHarness.Random(rng, DType.F32, wts)];
            CpuHarness.CheckAgainstReference(g, ins, 1e-5, 1e-5);
        }, iter: 30);
    }

    /// <summary>
    /// Convolutions large enough for the panel path's two splits (column blocks per thread; few output positions with
    /// W's rows split over the threads), with constant weights (packed into A panels once per plan) and with weights
    /// given as inputs, 1-d and 2-d, groups, strides, paddings and dilations, on one and two threads: the reference
    /// interpreter's values within float32 summation error. A 3×3 convolution of stride 1 with a constant weight that
    /// goes through Winograd (<see cref="ConvWinograd.Choose"/>) is off by an error relative to the output's scale
    /// rather than to each element (its transforms scale the terms up before the output transform cancels them): its
    /// absolute tolerance is 1e-4 of the reference's root mean square.
    /// </summary>
    [Theory]
    [InlineData(16, 40, 20, 23, 3, 1, 1, 1, 1)]
    [InlineData(32, 64, 7, 7, 3, 1, 1, 1, 1)]
    [InlineData(24, 36, 15, 17, 3, 2, 1, 1, 2)]
    [InlineData(8, 70, 30, 1, 1, 1, 0, 1, 1)]
    [InlineData(6, 20, 33, 29, 7, 2, 3, 1, 1)]
    [InlineData(12, 48, 14, 13, 3, 1, 2, 2, 3)]
    [InlineData(64, 96, 4, 4, 1, 2, 0, 1, 1)]
    [InlineData(128, 256, 10, 10, 3, 1, 1, 1, 1)]
    [InlineData(5, 28, 9, 75, 5, 2, 2, 1, 1)]
    [InlineData(4, 24, 11, 40, 3, 3, 1, 1, 1)]
    public void Convolutions_in_panels_match_the_reference(int cin, int cout, int h, int w, int k, int stride, int pad, int dil, int groups)
    {
        var rng = new Random((cin * 31) + h);
        bool oneD = w == 1;
        int[] xs = oneD ? [2, cin, h] : [2, cin, h, w];
        int[] ws = oneD ? [cout, cin / groups, k] : [cout, cin / groups, k, k];
        int sp = oneD ? 1 : 2;
        int[] R(int v) => [.. Enumerable.Repeat(v, sp)];
        var weight = CpuHarness.Random(rng, DType.F32, ws, -1, 1);
        var bias = CpuHarness.Random(rng, DType.F32, [cout], -1, 1);
        var x = Input("x", DType.F32, Shape.Of(xs));
        var wIn = Input("w", DType.F32, Shape.Of(ws));
        var constant = Conv(x, Constant(weight, "weight"), Constant(bias, "bias"), R(stride), R(pad), R(dil), groups);
        var given = Conv(x, wIn, null, R(stride), R(pad), R(dil), groups);
        var g = new Graph([x, wIn], [constant, given]);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, xs, -1, 1), weight];
        double atol = 1e-4;
        if (!oneD && groups == 1 && dil == 1 && stride == 1 && k == 3)
        {
            long oh = h + (2 * pad) - 2, ow = w + (2 * pad) - 2;
            var geometry = new ConvPanels { KH = 3, KW = 3, OH = oh, OW = ow, SH = 1, SW = 1, DH = 1, DW = 1 };
            if (ConvWinograd.Choose(geometry, 1, cin, cout, 2, SgemmKernelSelector.PanelWidth(SgemmKernelSelector.Best), SgemmKernelSelector.EdgeWidth(SgemmKernelSelector.Best)) != 0)
            {
                var expected = ReferenceInterpreter.Run(g, ins)[0];
                double squares = 0;
                for (long i = 0; i < expected.ElementCount; i++) squares += expected.GetDouble(i) * expected.GetDouble(i);
                atol = 1e-4 * Math.Sqrt(squares / expected.ElementCount);
            }
        }

        foreach (int threads in new[] { 1, 2 })
        {
            CpuHarness.CheckAgainstReference(g, ins, atol, 1e-4, threads: threads);
        }
    }

    /// <summary>
    /// Zero pads before convolutions (an exporter's asymmetric SAME padding: nothing before, one after; pads on both
    /// sides; a pad two convolutions read; a pad that is also an output, or padded with another value, which stays):
    /// the reference interpreter's values, the absorbed pads not materialized (no fill left in the plan when every pad
    /// is absorbed).
    /// </summary>
    [Fact]
    public void Zero_pads_read_by_convolutions_become_their_padding()
    {
        var rng = new Random(11);
        var x = Input("x", DType.F32, Shape.Of(2, 8, 13, 12));
        var w3 = Constant(CpuHarness.Random(rng, DType.F32, [16, 8, 3, 3], -1, 1), "w3");
        var w1 = Constant(CpuHarness.Random(rng, DType.F32, [16, 8, 1, 1], -1, 1), "w1");
        var b = Constant(CpuHarness.Random(rng, DType.F32, [16], -1, 1), "b");
        var sameUpper = Pad(x, [0, 1, 0, 1]);
        var both = Pad(x, [2, 1, 1, 3]);
        var absorbed = new Graph([x], [
            Conv(sameUpper, w3, b, [2, 2], [0, 0], [1, 1], 1),
            Conv(sameUpper, w1, null, [2, 2], [0, 0], [1, 1], 1),
            Conv(both, w3, b, [1, 2], [1, 0], [2, 1], 1),
        ]);
        var input = CpuHarness.Random(rng, DType.F32, [2, 8, 13, 12], -1, 1);
        foreach (int threads in new[] { 1, 2 })
        {
            CpuHarness.CheckAgainstReference(absorbed, [input], 1e-4, 1e-4, threads: threads);
        }

        Assert.DoesNotContain("fill", CpuHarness.Compile(absorbed, optLevel: 2).Describe(), StringComparison.Ordinal);

        var kept = new Graph([x], [Conv(sameUpper, w3, b, [2, 2], [0, 0], [1, 1], 1), sameUpper, Conv(Pad(x, [1, 1, 0, 1], 0.5), w3, null, [1, 1], [0, 0], [1, 1], 1)]);
        CpuHarness.CheckAgainstReference(kept, [input], 1e-4, 1e-4, threads: 2);
    }

    /// <summary>
    /// Pooling windows of every size up to 4 per dimension, strides up to 3 and paddings up to half the window (windows
    /// partly or mostly in the padding): the kernel, which visits only the window positions inside the input, computes
    /// the reference's values bit for bit.
    /// </summary>
    [Fact]
    public void Pooling_windows_match_the_reference_bit_for_bit()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, int.MaxValue]).Sample((sp, seed) =>
        {
            var rng = new Random(seed);
            var k = Enumerable.Range(0, sp).Select(_ => rng.Next(1, 5)).ToArray();
            var stride = Enumerable.Range(0, sp).Select(_ => rng.Next(1, 4)).ToArray();
            var pad = k.Select(kd => rng.Next(0, (kd / 2) + 1)).ToArray();
            var spatial = Enumerable.Range(0, sp).Select(d => Math.Max(1, k[d] - (2 * pad[d])) + rng.Next(0, 5)).ToArray();
            int[] xs = [2, 3, .. spatial];
            var x = Input("x", DType.F32, Shape.Of(xs));
            var g = new Graph([x], [Pool(Op.MaxPool, x, k, stride, pad), Pool(Op.AvgPool, x, k, stride, pad, countIncludePad: true), Pool(Op.AvgPool, x, k, stride, pad, countIncludePad: false)]);
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, xs)], 0, 0);
        }, iter: Iter);
    }

    /// <summary>
    /// 2-d max pools over rows long enough for the vectorized window maximum (ResNet's 3×3 of stride 2 at 112 columns,
    /// and odd windows, strides and paddings), with NaNs and zeros among the values: exactly the reference's values
    /// (NaN where a window holds one).
    /// </summary>
    [Theory]
    [InlineData(37, 113, 3, 2, 1)]
    [InlineData(20, 67, 4, 3, 2)]
    [InlineData(9, 41, 2, 1, 0)]
    [InlineData(11, 50, 5, 2, 2)]
    public void Max_pools_over_long_rows_match_the_reference_exactly(int h, int w, int k, int stride, int pad)
    {
        var rng = new Random(h * w);
        int[] xs = [2, 3, h, w];
        var input = CpuHarness.Random(rng, DType.F32, xs);
        for (long i = 0; i < input.ElementCount; i += rng.Next(1, 97))
        {
            input.SetDouble(i, rng.Next(3) switch { 0 => double.NaN, 1 => -0.0, _ => 0.0 });
        }

        var x = Input("x", DType.F32, Shape.Of(xs));
        var g = new Graph([x], [Pool(Op.MaxPool, x, [k, k], [stride, stride], [pad, pad])]);
        CpuHarness.CheckAgainstReference(g, [input], 0, 0);
    }

    /// <summary>
    /// −∞ pads before max pools (1-, 2- and 3-d, random pads before and after each spatial dim, windows, strides and
    /// paddings, windows wholly in the padding included) become the pools' padding, computing the reference's values
    /// bit for bit with no fill left in the plan; a pad also read elsewhere, a zero pad and a pad before an average pool
    /// stay, with the reference's values.
    /// </summary>
    [Fact]
    public void Negative_infinity_pads_read_by_max_pools_become_their_padding()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, int.MaxValue]).Sample((sp, seed) =>
        {
            var rng = new Random(seed);
            var k = Enumerable.Range(0, sp).Select(_ => rng.Next(1, 5)).ToArray();
            var stride = Enumerable.Range(0, sp).Select(_ => rng.Next(1, 4)).ToArray();
            var pad = k.Select(kd => rng.Next(0, (kd / 2) + 1)).ToArray();
            var spatial = Enumerable.Range(0, sp).Select(d => rng.Next(1, 9)).ToArray();
            var pads = Enumerable.Range(0, 2 * sp).Select(_ => rng.Next(0, 4)).ToArray();
            for (int d = 0; d < sp; d++)
            {
                // The padded input must hold one window: widen the pad after where it does not.
                int size = spatial[sp - 1 - d] + pads[2 * d] + pads[(2 * d) + 1] + (2 * pad[sp - 1 - d]);
                if (size < k[sp - 1 - d]) pads[(2 * d) + 1] += k[sp - 1 - d] - size;
            }

            int[] xs = [2, 3, .. spatial];
            var x = Input("x", DType.F32, Shape.Of(xs));
            var padded = Pad(x, pads, double.NegativeInfinity);
            var g = new Graph([x], [Pool(Op.MaxPool, padded, k, stride, pad), Pool(Op.MaxPool, padded, [.. Enumerable.Repeat(1, sp)], [.. Enumerable.Repeat(1, sp)], new int[sp])]);
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, DType.F32, xs)], 0, 0);
            if (!ReferenceEquals(padded, x)) Assert.DoesNotContain("rt:fill", CpuHarness.Compile(g, optLevel: 2).Describe(), StringComparison.Ordinal);
        }, iter: Iter);

        var y = Input("y", DType.F32, Shape.Of(1, 4, 7, 6));
        var sameUpper = Pad(y, [0, 1, 0, 1], double.NegativeInfinity);
        int[] k3 = [3, 3], s2 = [2, 2], p0 = [0, 0];
        var kept = new Graph([y], [
            Pool(Op.MaxPool, sameUpper, k3, s2, p0), sameUpper,
            Pool(Op.MaxPool, Pad(y, [0, 1, 0, 1]), k3, s2, p0),
            Pool(Op.AvgPool, Pad(y, [1, 1, 1, 1], double.NegativeInfinity), k3, s2, p0),
        ]);
        CpuHarness.CheckAgainstReference(kept, [CpuHarness.Random(new Random(2), DType.F32, [1, 4, 7, 6])], 0, 0);
    }

    [Fact]
    public void MovementAndIndexing()
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 6].Array[4], Gen.Int[0, int.MaxValue]).Sample((rank, pool, seed) =>
        {
            var rng = new Random(seed);
            var dt = new[] { DType.F32, DType.F16, DType.I64, DType.Bool }[rng.Next(4)];
            var shape = Dims(pool, rank);
            var x = Input("x", dt, Shape.Of(shape));
            int axis = rng.Next(rank);
            int[] idxShape = [rng.Next(0, 5)];
            var idx = Input("i", DType.I64, Shape.Of(idxShape));
            var gidxShape = shape.Select(d => rng.Next(1, d + 1)).ToArray();
            var gidx = Input("g", DType.I64, Shape.Of(gidxShape));
            var pad = Enumerable.Range(0, 2 * rank).Select(_ => rng.Next(0, 3)).ToArray();
            var outs = new List<Node>
            {
                Concat([x, Flip(x, axis), Slice(x, axis, 0, null, 2)], axis),
                Pad(x, pad, dt == DType.Bool ? 1 : 2.5),
                IndexSelect(x, axis, idx),
                Gather(x, axis, gidx),
                Reshape(Transpose(x, 0, rank - 1), -1),
                Expand(Unsqueeze(x, 0), new Shape([2, .. shape.Select(d => Dim.Of(d))])),
            };
            if (dt != DType.Bool) outs.Add(ScatterAdd(x, axis, gidx, Slice(Flip(x, axis), axis, 0, gidxShape[axis])));
            var g = new Graph([x, idx, gidx], outs);
            var index = HostTensor.Zeros(DType.I64, idxShape);
            for (int i = 0; i < idxShape[0]; i++) index.SetInt64(i, rng.Next(shape[axis]));
            var gindex = HostTensor.Zeros(DType.I64, gidxShape);
            for (long i = 0; i < gindex.ElementCount; i++) gindex.SetInt64(i, rng.Next(shape[axis]));
            var (atol, rtol) = dt == DType.F16 ? (4e-3, 4e-3) : (1e-6, 1e-6);
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, dt, shape), index, gindex], atol, rtol);
        }, iter: Iter);
    }

    [Fact]
    public void OutOfRangeIndexNamesTheStep()
    {
        var x = Input("x", DType.F32, Shape.Of(4, 3));
        var i = Input("i", DType.I64, Shape.Of(2));
        var plan = CpuHarness.Compile(new Graph([x, i], [IndexSelect(x, 0, i)]));
        var e = Assert.Throws<InvalidOperationException>(() => plan.Run([HostTensor.Zeros(DType.F32, 4, 3), HostTensor.FromArray(new long[] { 1, 7 }, 2)]));
        Assert.Contains("index_select", e.Message);
        Assert.Contains("index 7", e.Message);
    }

    [Fact]
    public void LeavesAndConstants()
    {
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n));
        var w = Constant(HostTensor.FromArray([1f, 2f, 3f], 3), "w");
        var g = new Graph([x], [Arange(n, DType.F32, 1.5, 0.5), Arange(n), Full(3.25, DType.F32, new Shape(n, 2)), Binary(Op.Add, Unsqueeze(x, 1), w), w, Binary(Op.Mul, Full(2, DType.F32, new Shape(n)), x)]);
        var plan = CpuHarness.Compile(g);
        foreach (int len in new[] { 0, 1, 9 }) CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(new Random(len), DType.F32, [len])], 1e-6, 1e-6, plan: plan);
    }

    [Fact]
    public void RopeAndAttention()
    {
        Gen.Select(Gen.Int[1, 2], Gen.Int[1, 4], Gen.Int[1, 9], Gen.Int[0, int.MaxValue]).Sample((bsz, hk, sq, seed) =>
        {
            var rng = new Random(seed);
            int hq = hk * rng.Next(1, 3), d = 2 * rng.Next(1, 5), sk = sq + rng.Next(0, 4);
            var dt = rng.Next(3) == 0 ? DType.F16 : DType.F32;
            var q = Input("q", dt, Shape.Of(bsz, hq, sq, d));
            var k = Input("k", dt, Shape.Of(bsz, hk, sk, d));
            var v = Input("v", dt, Shape.Of(bsz, hk, sk, d));
            var cos = Input("cos", dt, Shape.Of(sq, d / 2));
            var sin = Input("sin", dt, Shape.Of(sq, d / 2));
            var mask = Input("mask", DType.Bool, Shape.Of(sq, sk));
            var outs = new List<Node>
            {
                Rope(q, cos, sin, interleaved: false), Rope(q, cos, sin, interleaved: true),
                Attention(q, k, v, causal: true), Attention(q, k, v, mask: mask), Attention(q, k, v, mask: Cast(mask, dt), causal: false, scale: 0.3),
            };
            var g = new Graph([q, k, v, cos, sin, mask], outs);
            var m = CpuHarness.Random(rng, DType.Bool, [sq, sk]);
            for (int i = 0; i < sq; i++) m.SetDouble((i * sk) + rng.Next(sk), 1); // every query keeps at least one key
            HostTensor[] ins = [CpuHarness.Random(rng, dt, [bsz, hq, sq, d]), CpuHarness.Random(rng, dt, [bsz, hk, sk, d]), CpuHarness.Random(rng, dt, [bsz, hk, sk, d]), CpuHarness.Random(rng, dt, [sq, d / 2]), CpuHarness.Random(rng, dt, [sq, d / 2]), m];
            var (atol, rtol) = Tol(dt, 4);
            CpuHarness.CheckAgainstReference(g, ins, atol, rtol);
        }, iter: 40);
    }
}
