using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Tests.Reference.Ref;

namespace Candle.Compiler.Tests.Reference;

public class InterpreterTests
{
    private static readonly Dim Seq = Dim.Sym("seq");

    [Fact]
    public void RunBindsSymbolsAndReturnsEveryOutput()
    {
        var x = IrBuilder.Input("x", DType.F32, new Shape(Seq, 2));
        var y = IrBuilder.Unary(Op.Exp, x);
        var s = IrBuilder.Reduce(Op.Sum, x, [0]);
        var pos = IrBuilder.Arange(Seq, DType.I64);
        var g = new Graph([x], [y, s, pos], ["y", "s", "pos"]);
        foreach (int n in new[] { 1, 3, 0 })
        {
            var xv = F32(Rand(n * 2, n), n, 2);
            var r = ReferenceInterpreter.Run(g, [xv]);
            Assert.Equal(3, r.Length);
            Assert.Equal([n, 2], r[0].ShapeArray());
            Assert.Equal([2], r[1].ShapeArray());
            Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), L(r[2]));
        }
    }

    [Fact]
    public void WrongInputsAreRejectedWithTheirName()
    {
        var x = IrBuilder.Input("tokens", DType.I64, new Shape(Seq));
        var g = new Graph([x], [IrBuilder.Binary(Op.Add, x, 1.0)]);
        var e = Assert.Throws<ArgumentException>(() => ReferenceInterpreter.Run(g, [F32([1], 1)]));
        Assert.Contains("tokens", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ReferenceInterpreter.Run(g, []));
    }

    [Fact]
    public void LeavesEvaluate()
    {
        Assert.Equal(new[] { 2.5, 2.5, 2.5 }, D(ReferenceInterpreter.Evaluate(IrBuilder.Full(2.5, DType.F32, Shape.Of(3)))));
        Assert.Equal(new long[] { 7, 7 }, L(ReferenceInterpreter.Evaluate(IrBuilder.Full(7.9, DType.I32, Shape.Of(2)))));
        Assert.Equal(new[] { 1.0, 1.5, 2.0 }, D(ReferenceInterpreter.Evaluate(IrBuilder.Arange(3, DType.F32, 1, 0.5))));
        var c = HostTensor.FromArray(new[] { 1f, 2f }, 2);
        var r = ReferenceInterpreter.Evaluate(IrBuilder.Constant(c));
        Assert.Equal(new[] { 1.0, 2 }, D(r));
        Assert.NotSame(c, r); // outputs never alias constants
    }

    [Fact]
    public void EvaluateFoldsConstantSubgraphs()
    {
        var c = IrBuilder.Constant(HostTensor.FromArray(new[] { 1f, 4f, 9f }, 3));
        var n = IrBuilder.Binary(Op.Mul, IrBuilder.Unary(Op.Sqrt, c), IrBuilder.Arange(3, DType.F32));
        Assert.Equal(new[] { 0.0, 2, 6 }, D(ReferenceInterpreter.Evaluate(n)));
    }

    [Fact]
    public void EvaluateRefusesNodesThatNeedInputsOrUnboundSymbols()
    {
        var x = IrBuilder.Input("hidden", DType.F32, Shape.Of(2));
        var e = Assert.Throws<InvalidOperationException>(() => ReferenceInterpreter.Evaluate(IrBuilder.Unary(Op.Exp, x)));
        Assert.Contains("hidden", e.Message, StringComparison.Ordinal);
        var s = Assert.Throws<InvalidOperationException>(() => ReferenceInterpreter.Evaluate(IrBuilder.Arange(Seq)));
        Assert.Contains("seq", s.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FusedNodesEvaluateTheirBody()
    {
        var a = IrBuilder.Input("a", DType.F32, new Shape(Seq));
        var b = IrBuilder.Input("b", DType.F32, new Shape(Seq));
        var body = new Graph([a, b], [IrBuilder.Unary(Op.Relu, IrBuilder.Binary(Op.Add, a, b))]);
        var x = IrBuilder.Input("x", DType.F32, new Shape(Seq));
        var y = IrBuilder.Input("y", DType.F32, new Shape(Seq));
        var fused = IrBuilder.Fused(body, "elementwise", [x, y]);
        var g = new Graph([x, y], [IrBuilder.Binary(Op.Mul, fused, 2.0)]);
        var r = ReferenceInterpreter.Run(g, [F32([1, -5, 2], 3), F32([1, 1, 1], 3)])[0];
        Assert.Equal(new[] { 4.0, 0, 6 }, D(r));
    }

    [Fact]
    public void OutputsDoNotAliasInputsOrEachOther()
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(2));
        var sq = IrBuilder.Binary(Op.Mul, x, x);
        var g = new Graph([x], [x, sq, sq]);
        var xv = F32([3, 4], 2);
        var r = ReferenceInterpreter.Run(g, [xv]);
        Assert.NotSame(xv, r[0]);
        Assert.NotSame(r[1], r[2]);
        Assert.Equal(new[] { 9.0, 16 }, D(r[2]));
        Assert.Equal(new[] { 3.0, 4 }, D(xv)); // inputs are never written
    }

    [Fact]
    public void IntermediateValuesUsedManyTimesStayAliveUntilTheirLastUse()
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(3));
        var e = IrBuilder.Unary(Op.Exp, x);
        var a = IrBuilder.Binary(Op.Add, e, 1.0);
        var b = IrBuilder.Binary(Op.Mul, e, e);
        var c = IrBuilder.Binary(Op.Sub, IrBuilder.Binary(Op.Add, a, b), e);
        var r = D(ReferenceInterpreter.Run(new Graph([x], [c]), [F32([0, 1, 2], 3)])[0]);
        Close(new[] { 0, 1, 2 }.Select(v => Math.Exp(v) + 1 + Math.Exp(2 * v) - Math.Exp(v)).ToArray(), r, 1e-6);
    }

    [Fact]
    public void BackendCompilesAndRunsFromManyThreads()
    {
        var backend = ReferenceBackend.Instance;
        Assert.Equal("reference", backend.Name);
        Assert.True(backend.IsAvailable);
        Assert.All(Enum.GetValues<Op>(), op => Assert.True(backend.Capabilities.Supports(op)));
        Assert.All(Enum.GetValues<DType>(), dt => Assert.Contains(dt, backend.Capabilities.DTypes));

        var x = IrBuilder.Input("x", DType.F32, new Shape(Seq, 4));
        var w = IrBuilder.Constant(F32(Rand(16, 1), 4, 4), "w");
        var g = new Graph([x], [IrBuilder.Softmax(IrBuilder.MatMul(x, w), -1)], ["probs"]);
        var exe = backend.Compile(g, CompileOptions.Default);
        Assert.Equal(["x"], exe.InputNames);
        Assert.Equal(["probs"], exe.OutputNames);
        var xv = F32(Rand(12, 2), 3, 4);
        var expected = D(exe.Run([xv])[0]);
        Parallel.For(0, 8, _ => Assert.Equal(expected, D(exe.Run([xv])[0])));
    }

    [Fact]
    public void ATinyTransformerBlockRuns()
    {
        // embedding → rms norm → q/k/v projections → rope → causal GQA attention → output projection → residual → gelu MLP
        int vocab = 11, dim = 8, heads = 2, kvHeads = 1, hd = dim / heads;
        var tokens = IrBuilder.Input("tokens", DType.I64, new Shape(1, Seq));
        Node W(int rows, int cols, int seed) => IrBuilder.Constant(F32(Rand(rows * cols, seed, 0.5f), rows, cols));
        var h = IrBuilder.IndexSelect(W(vocab, dim, 1), 0, tokens); // [1, seq, dim]
        var n = IrBuilder.RmsNorm(h, IrBuilder.Constant(F32([.. Enumerable.Repeat(1f, dim)], dim)), 1e-6);
        Node Heads(Node t, int nh) => IrBuilder.Transpose(IrBuilder.Reshape(t, new Shape(1, Seq, nh, hd)), 1, 2);
        var q = Heads(IrBuilder.Linear(n, W(dim, dim, 2)), heads);
        var k = Heads(IrBuilder.Linear(n, W(hd * kvHeads, dim, 3)), kvHeads);
        var v = Heads(IrBuilder.Linear(n, W(hd * kvHeads, dim, 4)), kvHeads);
        var pos = IrBuilder.Cast(IrBuilder.Arange(Seq), DType.F32);
        var freqs = IrBuilder.Binary(Op.Mul, IrBuilder.Unsqueeze(pos, -1), IrBuilder.Constant(F32([1f, 0.1f], 1, 2)));
        q = IrBuilder.Rope(q, IrBuilder.Unary(Op.Cos, freqs), IrBuilder.Unary(Op.Sin, freqs), false);
        k = IrBuilder.Rope(k, IrBuilder.Unary(Op.Cos, freqs), IrBuilder.Unary(Op.Sin, freqs), false);
        var att = IrBuilder.Attention(q, k, v, causal: true);
        var merged = IrBuilder.Reshape(IrBuilder.Transpose(att, 1, 2), new Shape(1, Seq, dim));
        h = IrBuilder.Binary(Op.Add, h, IrBuilder.Linear(merged, W(dim, dim, 5)));
        var mlp = IrBuilder.Linear(IrBuilder.Unary(Op.Gelu, IrBuilder.Linear(IrBuilder.LayerNorm(h, null, null, 1e-5), W(16, dim, 6))), W(dim, 16, 7));
        var logits = IrBuilder.Linear(IrBuilder.Binary(Op.Add, h, mlp), W(vocab, dim, 8));
        var g = new Graph([tokens], [logits]);
        Verifier.Verify(g);

        var full = ReferenceInterpreter.Run(g, [I64([3, 1, 4, 1, 5], 1, 5)])[0];
        Assert.Equal([1, 5, vocab], full.ShapeArray());
        Assert.All(D(full), x => Assert.True(double.IsFinite(x)));
        // causality: the first three positions do not depend on later tokens
        var prefix = ReferenceInterpreter.Run(g, [I64([3, 1, 4], 1, 3)])[0];
        Close(D(prefix), D(full).Take(3 * vocab).ToArray(), 1e-6);
    }
}
