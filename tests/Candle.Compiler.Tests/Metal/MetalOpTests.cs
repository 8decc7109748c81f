using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Ir;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Xunit.Abstractions;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Metal;

/// <summary>
/// The Metal backend's library kernels (GEMM with simdgroup matrices, batched matmul, prefill and decode attention,
/// rope, copies, gathers, fills) and the generated kernels around them, through the shim at O0 and O2, against the
/// reference interpreter; and the quantized GEMVs against GGML's dequantization. Tolerances: f32 sums rtol 1e-5 and
/// atol 1e-5·√n, f16 4e-3 (one step of the format).
/// </summary>
public unsafe class MetalOpTests(ITestOutputHelper output)
{
    private static (double, double) Tol(DType dt, double n = 16) => dt == DType.F16 ? (4e-3 * Math.Sqrt(n), 4e-3) : (1e-5 * Math.Sqrt(n), 1e-5);

    [Theory]
    [InlineData(1, 5, 7, 3, false, false)]
    [InlineData(0, 33, 40, 65, false, true)]
    [InlineData(2, 9, 17, 31, true, false)]
    [InlineData(1, 64, 64, 64, true, true)]
    public void MatMulsWithBatchesAndTransposes(int batchRank, int m, int k, int n, bool ta, bool tb)
    {
        if (MetalHarness.Missing(output)) return;
        foreach (var dt in new[] { DType.F32, DType.F16 })
        {
            var rng = new Random(m * 31 + k);
            int[] bdims = [.. new[] { 2, 3 }.Take(batchRank)];
            int[] aShape = [.. bdims, .. ta ? new[] { k, m } : new[] { m, k }];
            int[] bShape = tb ? [n, k] : [k, n];
            int[] bbShape = [.. bdims, .. bShape];
            var a = Input("a", dt, Shape.Of(aShape));
            var b = Input("b", dt, Shape.Of(bShape));
            var bb = Input("bb", dt, Shape.Of(bbShape));
            var av = ta ? Transpose(a, -1, -2) : a;
            var g = new Graph([a, b, bb], [MatMul(av, tb ? Transpose(b, 0, 1) : b), MatMul(av, tb ? Transpose(bb, -1, -2) : bb)]);
            var (atol, rtol) = Tol(dt, k);
            MetalHarness.Check(g, [CpuHarness.Random(rng, dt, aShape), CpuHarness.Random(rng, dt, bShape), CpuHarness.Random(rng, dt, bbShape)], atol, rtol);
        }
    }

    [Fact]
    public void LinearWithAFusedEpilogueAndABFloat16Weight()
    {
        if (MetalHarness.Missing(output)) return;
        var rng = new Random(8);
        var x = Input("x", DType.F32, new Shape(Dim.Sym("s"), 48));
        var w = Constant(CpuHarness.Random(rng, DType.BF16, [40, 48]), "w");
        var bias = Constant(CpuHarness.Random(rng, DType.F32, [40]), "b");
        var g = new Graph([x], [Unary(Op.Silu, Linear(x, Cast(w, DType.F32), bias))]);
        foreach (int s in new[] { 1, 3, 37 }) MetalHarness.Check(g, [CpuHarness.Random(rng, DType.F32, [s, 48])], 2e-5 * Math.Sqrt(48), 1e-5);
    }

    [Theory]
    [InlineData(1, 2, 1, 5, 7, 8, DType.F32)]
    [InlineData(2, 2, 2, 9, 12, 64, DType.F32)]
    [InlineData(1, 4, 2, 1, 19, 32, DType.F32)]
    [InlineData(1, 2, 1, 6, 6, 16, DType.F16)]
    [InlineData(1, 1, 1, 2, 40, 96, DType.F32)]
    public void RopeAndAttentionPrefillAndDecode(int bsz, int hq, int hk, int sq, int sk, int d, DType dt)
    {
        if (MetalHarness.Missing(output)) return;
        var rng = new Random(sq * 7 + sk);
        var q = Input("q", dt, Shape.Of(bsz, hq, sq, d));
        var k = Input("k", dt, Shape.Of(bsz, hk, sk, d));
        var v = Input("v", dt, Shape.Of(bsz, hk, sk, d));
        var cos = Input("cos", dt, Shape.Of(sq, d / 2));
        var sin = Input("sin", dt, Shape.Of(sq, d / 2));
        var mask = Input("mask", DType.Bool, Shape.Of(sq, sk));
        var qt = Input("qt", dt, Shape.Of(bsz, sq, hq, d));
        var kt = Input("kt", dt, Shape.Of(bsz, sk, hk, d));
        var g = new Graph([q, k, v, cos, sin, mask, qt, kt],
        [
            Rope(q, cos, sin, interleaved: false), Rope(q, cos, sin, interleaved: true),
            Attention(q, k, v, causal: true), Attention(q, k, v, mask: mask), Attention(q, k, v, mask: Cast(mask, dt), causal: false, scale: 0.3),
            Attention(Transpose(qt, 1, 2), Transpose(kt, 1, 2), v, causal: true),
        ]);
        var m = CpuHarness.Random(rng, DType.Bool, [sq, sk]);
        for (int i = 0; i < sq; i++) m.SetDouble((i * sk) + rng.Next(sk), 1);
        HostTensor[] ins = [CpuHarness.Random(rng, dt, [bsz, hq, sq, d]), CpuHarness.Random(rng, dt, [bsz, hk, sk, d]), CpuHarness.Random(rng, dt, [bsz, hk, sk, d]), CpuHarness.Random(rng, dt, [sq, d / 2]), CpuHarness.Random(rng, dt, [sq, d / 2]), m, CpuHarness.Random(rng, dt, [bsz, sq, hq, d]), CpuHarness.Random(rng, dt, [bsz, sk, hk, d])];
        var (atol, rtol) = Tol(dt, 4);
        MetalHarness.Check(g, ins, atol, rtol);
    }

    [Fact]
    public void MovementIndexingAndConstants()
    {
        if (MetalHarness.Missing(output)) return;
        var rng = new Random(4);
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 5));
        var h = Input("h", DType.F16, new Shape(n, 5));
        var idx = Input("i", DType.I64, Shape.Of(6));
        var table = Constant(CpuHarness.Random(rng, DType.F32, [10, 4]), "table");
        var g = new Graph([x, h, idx],
        [
            Concat([x, Flip(x, 1), Slice(x, 1, 0, null, 2)], 1), Pad(x, [1, 2, 0, 1], 2.5), Reshape(Transpose(h, 0, 1), -1),
            IndexSelect(table, 0, idx), IndexSelect(h, 1, Slice(idx, 0, 0, 3)), Arange(n, DType.F32, 1.5, 0.5), Arange(n), Full(3.25, DType.F32, new Shape(n, 2)),
        ]);
        var index = HostTensor.FromArray(new long[] { 0, 3, 4, 1, 9, 2 }, 6);
        foreach (int len in new[] { 1, 4, 9 }) MetalHarness.Check(g, [CpuHarness.Random(rng, DType.F32, [len, 5]), CpuHarness.Random(rng, DType.F16, [len, 5]), index], 1e-6, 1e-6);
    }

    [Fact]
    public void IntegerOpsAndCastsBetweenIntegersAndFloats()
    {
        if (MetalHarness.Missing(output)) return;
        var rng = new Random(21);
        var a = Input("a", DType.I64, Shape.Of(3, 7));
        var b = Input("b", DType.I64, Shape.Of(3, 7));
        var i = Input("i", DType.I32, Shape.Of(7));
        var f = Input("f", DType.F32, Shape.Of(3, 7));
        var u = Input("u", DType.U8, Shape.Of(3, 7));
        var nonzero = Where(Binary(Op.Eq, b, 0.0), Binary(Op.Add, b, 1.0), b);
        var g = new Graph([a, b, i, f, u],
        [
            Binary(Op.Add, a, b), Binary(Op.Mul, Binary(Op.Sub, a, b), a), Unary(Op.Neg, a), Unary(Op.Abs, b),
            Binary(Op.FloorDiv, a, nonzero), Binary(Op.Remainder, a, nonzero), Binary(Op.Maximum, a, b), Binary(Op.Minimum, a, b),
            Binary(Op.Lt, a, b), Binary(Op.Ge, a, b), Binary(Op.Ne, a, b), Where(Binary(Op.Gt, a, b), a, Transpose(Reshape(b, 7, 3), 0, 1)),
            Cast(a, DType.F32), Cast(a, DType.F16), Cast(i, DType.I64), Cast(Binary(Op.Add, a, Reshape(Cast(i, DType.I64), 1, 7)), DType.I32),
            Cast(Binary(Op.Mul, f, 3.0), DType.I64), Cast(Binary(Op.Mul, f, 3.0), DType.I32), Cast(Binary(Op.Lt, a, b), DType.I64), Cast(u, DType.F32),
            Binary(Op.Add, u, u),
        ]);
        MetalHarness.Check(g, [CpuHarness.Random(rng, DType.I64, [3, 7]), CpuHarness.Random(rng, DType.I64, [3, 7]), CpuHarness.Random(rng, DType.I32, [7]),
            CpuHarness.Random(rng, DType.F32, [3, 7]), CpuHarness.Random(rng, DType.U8, [3, 7])], 1e-6, 1e-6);
    }

    [Fact]
    public void AnOutOfRangeIndexNamesTheCall()
    {
        if (MetalHarness.Missing(output)) return;
        var x = Input("x", DType.F32, Shape.Of(4, 3));
        var i = Input("i", DType.I64, Shape.Of(2));
        using var exe = MetalHarness.Compile(new Graph([x, i], [IndexSelect(x, 0, i)]), 0);
        var e = Assert.Throws<IndexOutOfRangeException>(() => exe.Run([HostTensor.Zeros(DType.F32, 4, 3), HostTensor.FromArray(new long[] { 1, 7 }, 2)]));
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedCallsAreNamed()
    {
        var x = Input("x", DType.F32, Shape.Of(4, 3));
        var e = Assert.Throws<NotSupportedException>(() => MetalPlanEmitter.Emit(Scheduling.Scheduler.Schedule(new Graph([x], [CumSum(x, 1)]))));
        Assert.Contains("cumsum", e.Message, StringComparison.Ordinal);
        var seed = Input("rng.seed", DType.I64, Shape.Scalar);
        e = Assert.Throws<NotSupportedException>(() => MetalPlanEmitter.Emit(Scheduling.Scheduler.Schedule(new Graph([seed], [RandomUniform(seed, Shape.Of(4, 3))]))));
        Assert.Contains("random_uniform", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void QuantizedGemvMatchesGgmlDequantization(GgmlType type)
    {
        if (MetalHarness.Missing(output)) return;
        const int N = 13, K = 96;
        var rng = new Random((int)type);
        var wf = new float[N * K];
        for (int i = 0; i < wf.Length; i++) wf[i] = (float)((rng.NextDouble() * 2) - 1);
        var x = new float[K];
        for (int i = 0; i < K; i++) x[i] = (float)((rng.NextDouble() * 2) - 1);
        int blockBytes = type == GgmlType.Q8_0 ? 34 : 18;
        var wq = new byte[N * (K / 32) * blockBytes];
        var deq = new float[N * K];
        if (type == GgmlType.Q8_0)
        {
            BlockQ8_0.Quantize(wf, wq);
            BlockQ8_0.Dequantize(wq, deq);
        }
        else
        {
            BlockQ4_0.Quantize(wf, wq);
            BlockQ4_0.Dequantize(wq, deq);
        }

        var lib = MslShim.Load(MetalLibrary.Source);
        var y = new float[N];
        long[] args = [N, K];
        fixed (byte* pw = wq)
        fixed (float* px = x, py = y)
        fixed (long* pa = args)
        {
            lib.Dispatch(type == GgmlType.Q8_0 ? "cdlib_gemv_q8_0" : "cdlib_gemv_q4_0", [(nint)pw, (nint)px, (nint)py, (nint)pa], ((N + 3) / 4, 1, 1), (128, 1, 1));
        }

        for (int r = 0; r < N; r++)
        {
            double e = 0;
            for (int c = 0; c < K; c++) e += (double)deq[(r * K) + c] * x[c];
            Assert.Equal(e, y[r], 1e-4);
        }
    }

    [Fact]
    public void LibraryRowKernelsMatchTheReference()
    {
        if (MetalHarness.Missing(output)) return;
        const int Rows = 3, N = 300;
        var rng = new Random(12);
        var xt = CpuHarness.Random(rng, DType.F32, [Rows, N]);
        var wt = CpuHarness.Random(rng, DType.F32, [N]);
        var bt = CpuHarness.Random(rng, DType.F32, [N]);
        var xi = Input("x", DType.F32, Shape.Of(Rows, N));
        var wi = Input("w", DType.F32, Shape.Of(N));
        var bi = Input("b", DType.F32, Shape.Of(N));
        var expected = Candle.Compiler.Backends.Reference.ReferenceInterpreter.Run(new Graph([xi, wi, bi], [Softmax(xi, 1), RmsNorm(xi, wi, 1e-6), LayerNorm(xi, wi, bi, 1e-5)]), [xt, wt, bt]);
        var lib = MslShim.Load(MetalLibrary.Source);
        var outs = new[] { HostTensor.Zeros(DType.F32, Rows, N), HostTensor.Zeros(DType.F32, Rows, N), HostTensor.Zeros(DType.F32, Rows, N) };
        fixed (byte* x = xt.Data.Span, w = wt.Data.Span, b = bt.Data.Span, y0 = outs[0].Data.Span, y1 = outs[1].Data.Span, y2 = outs[2].Data.Span)
        {
            long[] a0 = [Rows, N, 0, 0, 0];
            long[] a1 = [Rows, N, BitConverter.SingleToUInt32Bits(1e-6f), 1, 0];
            long[] a2 = [Rows, N, BitConverter.SingleToUInt32Bits(1e-5f), 1, 1];
            fixed (long* p0 = a0, p1 = a1, p2 = a2)
            {
                lib.Dispatch("cdlib_softmax_rows", [(nint)x, (nint)y0, (nint)p0], (Rows, 1, 1), (96, 1, 1));
                lib.Dispatch("cdlib_rms_norm_rows", [(nint)x, (nint)w, (nint)y1, (nint)p1], (Rows, 1, 1), (128, 1, 1));
                lib.Dispatch("cdlib_layer_norm_rows", [(nint)x, (nint)w, (nint)b, (nint)y2, (nint)p2], (Rows, 1, 1), (64, 1, 1));
            }
        }

        CpuHarness.AssertClose(expected, outs, 1e-5 * Math.Sqrt(N), 1e-5);
    }
}
