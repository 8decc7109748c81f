using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

/// <summary>Each composite is recognized from its PyTorch-style primitive form, and computes the same values.</summary>
public class PatternRecognitionTests
{
    private static readonly Node X = Input("x", DType.F32, Shape.Of(3, 8));

    private static Graph Recognize(Graph g)
    {
        var ctx = PassTestKit.Context(2);
        var pm = new PassManager([new Canonicalize(), new AlgebraicSimplification(), new PatternRecognition()]);
        var after = pm.Run(g, ctx);
        PassTestKit.AssertSameResults(g, after, rtol: 2e-5, atol: 2e-5);
        return after;
    }

    private static Node Mul(Node a, Node b) => Binary(Op.Mul, a, b);

    private static Node Add(Node a, Node b) => Binary(Op.Add, a, b);

    [Fact]
    public void SiluFromXTimesSigmoid()
    {
        var g = Recognize(new Graph([X], [Mul(Unary(Op.Sigmoid, X), X)]));
        Assert.Equal(
            """
            graph(x: float32[3, 8]) {
              %0 = input(name=x) : float32[3, 8]
              %1 = silu(%0) : float32[3, 8]
              return output0=%1
            }

            """,
            IrPrinter.Print(g));
    }

    [Fact]
    public void SiluFromHandWrittenSigmoid()
    {
        var sig = Binary(Op.Div, Full(1, DType.F32, X.Shape), Add(Unary(Op.Exp, Unary(Op.Neg, X)), Full(1, DType.F32, X.Shape)));
        Assert.Equal(Op.Silu, Recognize(new Graph([X], [Mul(X, sig)])).Outputs[0].Op);
    }

    [Fact]
    public void GeluErfForm()
    {
        // 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
        var y = Mul(Binary(Op.Mul, X, 0.5), Binary(Op.Add, Unary(Op.Erf, Binary(Op.Div, X, Math.Sqrt(2.0))), 1.0));
        Assert.Equal(Op.Gelu, Recognize(new Graph([X], [y])).Outputs[0].Op);
        // x * 0.5 * (1 + erf(x * 0.7071067811865476)), other association
        var y2 = Mul(X, Mul(Full(0.5, DType.F32, X.Shape), Add(Full(1, DType.F32, X.Shape), Unary(Op.Erf, Binary(Op.Mul, X, 0.7071067811865476)))));
        Assert.Equal(Op.Gelu, Recognize(new Graph([X], [y2])).Outputs[0].Op);
    }

    [Fact]
    public void GeluTanhForm()
    {
        // 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
        var inner = Binary(Op.Mul, Add(X, Binary(Op.Mul, Binary(Op.Pow, X, 3.0), 0.044715)), Math.Sqrt(2.0 / Math.PI));
        var y = Mul(Binary(Op.Mul, X, 0.5), Binary(Op.Add, Unary(Op.Tanh, inner), 1.0));
        Assert.Equal(Op.GeluTanh, Recognize(new Graph([X], [y])).Outputs[0].Op);
        var cube = Mul(Mul(X, X), X);
        var inner2 = Binary(Op.Mul, Add(X, Binary(Op.Mul, cube, 0.044715)), Math.Sqrt(2.0 / Math.PI));
        var y2 = Mul(Binary(Op.Mul, X, 0.5), Binary(Op.Add, Unary(Op.Tanh, inner2), 1.0));
        Assert.Equal(Op.GeluTanh, Recognize(new Graph([X], [y2])).Outputs[0].Op);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SoftmaxStableAndPlain(bool stable)
    {
        var shifted = stable ? Binary(Op.Sub, X, Reduce(Op.Max, X, [-1], keepDim: true)) : X;
        var e = Unary(Op.Exp, shifted);
        var y = Binary(Op.Div, e, Reduce(Op.Sum, e, [-1], keepDim: true));
        var g = Recognize(new Graph([X], [y]));
        Assert.Equal(
            """
            graph(x: float32[3, 8]) {
              %0 = input(name=x) : float32[3, 8]
              %1 = softmax(%0, axis=1) : float32[3, 8]
              return output0=%1
            }

            """,
            IrPrinter.Print(g));
    }

    [Fact]
    public void LayerNormWithWeightAndBias()
    {
        var w = Input("w", DType.F32, Shape.Of(8));
        var b = Input("b", DType.F32, Shape.Of(8));
        var mean = Reduce(Op.Mean, X, [-1], keepDim: true);
        var xc = Binary(Op.Sub, X, mean);
        var variance = Reduce(Op.Mean, Binary(Op.Pow, xc, 2.0), [-1], keepDim: true);
        var y = Add(Mul(Mul(xc, Unary(Op.Rsqrt, Binary(Op.Add, variance, 1e-5))), w), b);
        var g = Recognize(new Graph([X, w, b], [y]));
        Assert.Equal(
            """
            graph(x: float32[3, 8], w: float32[8], b: float32[8]) {
              %0 = input(name=x) : float32[3, 8]
              %1 = input(name=w) : float32[8]
              %2 = input(name=b) : float32[8]
              %3 = layer_norm(%0, %1, %2, eps=1E-05) : float32[3, 8]
              return output0=%3
            }

            """,
            IrPrinter.Print(g));
    }

    [Fact]
    public void LayerNormDivSqrtForm()
    {
        var mean = Reduce(Op.Mean, X, [-1], keepDim: true);
        var xc = Binary(Op.Sub, X, mean);
        var variance = Reduce(Op.Mean, Mul(xc, xc), [-1], keepDim: true);
        var y = Binary(Op.Div, xc, Unary(Op.Sqrt, Binary(Op.Add, variance, 1e-6)));
        Assert.Equal(Op.LayerNorm, Recognize(new Graph([X], [y])).Outputs[0].Op);
    }

    [Fact]
    public void RmsNormLlamaForm()
    {
        // variance = x.pow(2).mean(-1, keepdim=True); x = x * torch.rsqrt(variance + eps); return weight * x
        var w = Input("w", DType.F32, Shape.Of(8));
        var variance = Reduce(Op.Mean, Binary(Op.Pow, X, 2.0), [-1], keepDim: true);
        var y = Mul(w, Mul(X, Unary(Op.Rsqrt, Binary(Op.Add, variance, 1e-6))));
        var g = Recognize(new Graph([X, w], [y]));
        Assert.Equal(
            """
            graph(x: float32[3, 8], w: float32[8]) {
              %0 = input(name=x) : float32[3, 8]
              %1 = input(name=w) : float32[8]
              %2 = rms_norm(%0, %1, eps=1E-06) : float32[3, 8]
              return output0=%2
            }

            """,
            IrPrinter.Print(g));
    }

    [Fact]
    public void RotateHalfRope()
    {
        // q * cos + rotate_half(q) * sin with emb = cat(freqs, freqs); cos = emb.cos()
        var q = Input("q", DType.F32, Shape.Of(1, 2, 5, 8));
        var freqs = Input("freqs", DType.F32, Shape.Of(5, 4));
        var emb = Concat([freqs, freqs], -1);
        var cos = Unary(Op.Cos, emb);
        var sin = Unary(Op.Sin, emb);
        var x1 = Slice(q, -1, 0, 4);
        var x2 = Slice(q, -1, 4, null);
        var rot = Concat([Unary(Op.Neg, x2), x1], -1);
        var y = Add(Mul(q, cos), Mul(rot, sin));
        var g = Recognize(new Graph([q, freqs], [y]));
        Assert.Equal(Op.Rope, g.Outputs[0].Op);
        Assert.False(g.Outputs[0].Attr<RopeAttrs>().Interleaved);
        Assert.DoesNotContain(g.Nodes, n => n.Op == Op.Concat);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AttentionFromMatMulSoftmaxMatMul(bool withMask)
    {
        var q = Input("q", DType.F32, Shape.Of(1, 2, 5, 4));
        var k = Input("k", DType.F32, Shape.Of(1, 2, 6, 4));
        var v = Input("v", DType.F32, Shape.Of(1, 2, 6, 3));
        var mask = Input("mask", DType.F32, Shape.Of(5, 6));
        var scores = Binary(Op.Div, MatMul(q, Transpose(k, -2, -1)), 2.0);
        if (withMask) scores = Add(scores, mask);
        var y = MatMul(Softmax(scores, -1), v);
        Graph g = withMask ? new Graph([q, k, v, mask], [y]) : new Graph([q, k, v], [y]);
        var after = Recognize(g);
        var att = after.Outputs[0];
        Assert.Equal(Op.Attention, att.Op);
        Assert.Equal(0.5, att.Attr<AttentionAttrs>().Scale, 12);
        Assert.Equal(withMask, att.Attr<AttentionAttrs>().HasMask);
    }

    [Fact]
    public void AttentionFromPrimitiveSoftmax()
    {
        var q = Input("q", DType.F32, Shape.Of(1, 1, 3, 4));
        var k = Input("k", DType.F32, Shape.Of(1, 1, 3, 4));
        var v = Input("v", DType.F32, Shape.Of(1, 1, 3, 4));
        var s = Binary(Op.Mul, MatMul(q, Transpose(k, -2, -1)), 0.5);
        var e = Unary(Op.Exp, Binary(Op.Sub, s, Reduce(Op.Max, s, [-1], keepDim: true)));
        var p = Binary(Op.Div, e, Reduce(Op.Sum, e, [-1], keepDim: true));
        var after = Recognize(new Graph([q, k, v], [MatMul(p, v)]));
        Assert.Equal(Op.Attention, after.Outputs[0].Op);
    }

    [Fact]
    public void NearMissesAreLeftAlone()
    {
        // Not gelu: wrong constant. Not silu: sigmoid of another tensor.
        var y = Mul(Binary(Op.Mul, X, 0.5), Binary(Op.Add, Unary(Op.Erf, Binary(Op.Div, X, 1.5)), 1.0));
        var other = Input("o", DType.F32, X.Shape);
        var z = Mul(X, Unary(Op.Sigmoid, other));
        var g = Recognize(new Graph([X, other], [y, z]));
        Assert.DoesNotContain(g.Nodes, n => n.Op is Op.Gelu or Op.Silu);
    }
}
