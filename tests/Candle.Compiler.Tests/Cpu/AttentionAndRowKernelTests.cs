using System.Runtime.Intrinsics;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Cpu.Vectors;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// The float32 flash attention kernel and the vectorized row kernels (softmax, log-softmax, layer norm, RMS norm,
/// rope) against the reference interpreter at 256- and 512-bit lanes (512 runs in software where the processor
/// lacks it), and the fast exponential against double-precision exp.
/// </summary>
public class AttentionAndRowKernelTests
{
    private static readonly int[] Widths = [256, 512];

    [Fact]
    public void FlashAttentionMatchesTheReference()
    {
        Gen.Select(Gen.Int[1, 24], Gen.Int[0, 90], Gen.Int[1, 40], Gen.Int[0, int.MaxValue]).Sample((sq, sk, d, seed) =>
        {
            var rng = new Random(seed);
            int b = rng.Next(1, 3), hk = rng.Next(1, 3), hq = hk * rng.Next(1, 4), dv = rng.Next(2) == 0 ? d : rng.Next(1, 33);
            bool causal = rng.Next(2) == 0, transposed = rng.Next(2) == 0;
            int maskKind = rng.Next(4);
            Node Operand(string name, int heads, int seq, int dim) => transposed
                ? Transpose(Input(name, DType.F32, Shape.Of(b, seq, heads, dim)), 1, 2)
                : Input(name, DType.F32, Shape.Of(b, heads, seq, dim));
            var q = Operand("q", hq, sq, d);
            var k = Operand("k", hk, sk, d);
            var v = Operand("v", hk, sk, dv);
            var inputs = new List<Node> { Leaf(q), Leaf(k), Leaf(v) };
            Node? mask = null;
            if (maskKind == 1)
            {
                mask = Input("m", DType.Bool, Shape.Of(b, 1, sq, sk));
            }
            else if (maskKind == 2)
            {
                mask = Input("m", DType.F32, Shape.Of(1, hq, sq, sk));
            }
            else if (maskKind == 3)
            {
                mask = Input("m", DType.F32, Shape.Of(sk));
            }

            if (mask is not null) inputs.Add(mask);
            var g = new Graph(inputs, [Attention(q, k, v, mask, causal, rng.Next(2) == 0 ? null : 0.37)]);
            var data = inputs.Select(i => CpuHarness.Random(rng, i.DType, [.. i.Shape.Select(x => (int)x.Value)], -2, 2)).ToArray();
            var expected = ReferenceInterpreter.Run(g, data);
            foreach (int bits in Widths)
            {
                CpuHarness.AssertClose(expected, CpuHarness.Compile(g, bits).Run(data), 2e-5, 2e-5);
            }
        }, iter: 80);
    }

    [Theory]
    [InlineData(150, 150, 64, 4, true, false)]
    [InlineData(37, 200, 64, 2, true, true)]
    [InlineData(130, 130, 128, 1, false, false)]
    [InlineData(64, 129, 32, 8, true, true)]
    public void PrefillShapedAttentionMatchesTheReference(int sq, int sk, int d, int group, bool causal, bool transposed)
    {
        // Head dims of whole vectors and no mask: the transposed-key path, over key counts that are not whole key
        // blocks, query blocks cut by the length, a cache longer than the queries (causal: aligned bottom-right) and
        // grouped heads whose items share the transposed keys.
        var rng = new Random(sq + sk + d + group);
        const int B = 2, Hk = 2;
        Node Operand(string name, int heads, int seq) => transposed
            ? Transpose(Input(name, DType.F32, Shape.Of(B, seq, heads, d)), 1, 2)
            : Input(name, DType.F32, Shape.Of(B, heads, seq, d));
        var q = Operand("q", Hk * group, sq);
        var k = Operand("k", Hk, sk);
        var v = Operand("v", Hk, sk);
        var inputs = new List<Node> { Leaf(q), Leaf(k), Leaf(v) };
        var g = new Graph(inputs, [Attention(q, k, v, null, causal, null)]);
        var data = inputs.Select(i => CpuHarness.Random(rng, i.DType, [.. i.Shape.Select(x => (int)x.Value)], -2, 2)).ToArray();
        var expected = ReferenceInterpreter.Run(g, data);
        foreach (int bits in Widths)
        {
            CpuHarness.AssertClose(expected, CpuHarness.Compile(g, bits).Run(data), 2e-5, 2e-5);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 1)]
    [InlineData(4, 2)]
    public void DecodeStepOverALongCacheMatchesTheReference(int group, int batch)
    {
        var rng = new Random(group * 10 + batch);
        var s = Dim.Sym("past");
        var q = Input("q", DType.F32, Shape.Of(batch, 2 * group, 1, 64));
        var k = Input("k", DType.F32, new Shape(batch, 2, s, 64));
        var v = Input("v", DType.F32, new Shape(batch, 2, s, 64));
        var g = new Graph([q, k, v], [Attention(q, k, v, causal: true)]);
        foreach (int bits in Widths)
        {
            var plan = CpuHarness.Compile(g, bits);
            foreach (int len in new[] { 1, 63, 64, 65, 300 })
            {
                var data = new[]
                {
                    CpuHarness.Random(rng, DType.F32, [batch, 2 * group, 1, 64]),
                    CpuHarness.Random(rng, DType.F32, [batch, 2, len, 64]),
                    CpuHarness.Random(rng, DType.F32, [batch, 2, len, 64]),
                };
                CpuHarness.AssertClose(ReferenceInterpreter.Run(g, data), plan.Run(data), 2e-5, 2e-5);
            }
        }
    }

    [Fact]
    public void RowKernelsMatchTheReferenceAtEveryWidthAndLength()
    {
        var rng = new Random(3);
        foreach (int n in new[] { 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257 })
        {
            var x = Input("x", DType.F32, Shape.Of(3, n));
            var w = Input("w", DType.F32, Shape.Of(n));
            var bias = Input("b", DType.F32, Shape.Of(n));
            var g = new Graph([x, w, bias], [Softmax(x, 1), LogSoftmax(x, 1), LayerNorm(x, w, bias, 1e-5), RmsNorm(x, w, 1e-6), Softmax(x, 0)]);
            var data = new[] { CpuHarness.Random(rng, DType.F32, [3, n], -20, 20), CpuHarness.Random(rng, DType.F32, [n]), CpuHarness.Random(rng, DType.F32, [n]) };
            var expected = ReferenceInterpreter.Run(g, data);
            foreach (int bits in Widths)
            {
                CpuHarness.AssertClose(expected, CpuHarness.Compile(g, bits).Run(data), 1e-5, 1e-5);
            }
        }
    }

    [Fact]
    public void SoftmaxKeepsInfinitiesAndNaNs()
    {
        var x = Input("x", DType.F32, Shape.Of(4, 19));
        var g = new Graph([x], [Softmax(x, 1), LogSoftmax(x, 1)]);
        var t = CpuHarness.Random(new Random(1), DType.F32, [4, 19]);
        for (int j = 0; j < 19; j++) t.SetDouble(j, double.NegativeInfinity);
        t.SetDouble(19 + 3, double.NegativeInfinity);
        t.SetDouble(38 + 18, double.NaN);
        t.SetDouble(57 + 5, 1e30);
        var expected = ReferenceInterpreter.Run(g, [t]);
        foreach (int bits in Widths) CpuHarness.AssertClose(expected, CpuHarness.Compile(g, bits).Run([t]), 1e-6, 1e-5);
    }

    [Fact]
    public void RopeMatchesTheReference()
    {
        var rng = new Random(8);
        foreach (int d in new[] { 2, 6, 16, 18, 64 })
        {
            var x = Input("x", DType.F32, Shape.Of(2, 3, 5, d));
            var cos = Input("cos", DType.F32, Shape.Of(5, d / 2));
            var sin = Input("sin", DType.F32, Shape.Of(5, d / 2));
            var g = new Graph([x, cos, sin], [Rope(x, cos, sin, interleaved: false), Rope(x, cos, sin, interleaved: true)]);
            var data = new[] { CpuHarness.Random(rng, DType.F32, [2, 3, 5, d]), CpuHarness.Random(rng, DType.F32, [5, d / 2]), CpuHarness.Random(rng, DType.F32, [5, d / 2]) };
            CpuHarness.CheckAgainstReference(g, data, 1e-5, 1e-5);
        }
    }

    [Fact]
    public void FastExpStaysWithinItsDocumentedErrorBound()
    {
        double worst = 0;
        for (int i = 0; i <= 2_000_000; i++)
        {
            float x = (float)(-86.9 + (i * (88.72 + 86.9) / 2_000_000));
            float y = FastExp.Exp(Vector256.Create(x)).ToScalar();
            double e = Math.Exp(x);
            worst = Math.Max(worst, Math.Abs(y - e) / e);
        }

        Assert.True(worst < 2.5e-7, $"max relative error {worst:E3}");
        Assert.True(float.IsNaN(FastExp.Exp(float.NaN)));
        Assert.Equal(float.PositiveInfinity, FastExp.Exp(float.PositiveInfinity));
        Assert.Equal(float.PositiveInfinity, FastExp.Exp(89f));
        Assert.Equal(0f, FastExp.Exp(float.NegativeInfinity));
        Assert.Equal(0f, FastExp.Exp(-100f));
        Assert.Equal(1f, FastExp.Exp(0f));
        Assert.Equal(FastExp.Exp(Vector256.Create(1.5f)).ToScalar(), FastExp.Exp(Vector512.Create(1.5f)).ToScalar());
    }

    private static Node Leaf(Node n) => n.Op == Op.Input ? n : Leaf(n.Inputs[0]);
}
