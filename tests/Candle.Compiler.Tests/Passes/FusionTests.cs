using Candle.Compiler.Analysis;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Xunit.Abstractions;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

public class FusionTests(ITestOutputHelper output)
{
    private static readonly Node A = Input("a", DType.F32, Shape.Of(4, 8));
    private static readonly Node B = Input("b", DType.F32, Shape.Of(8, 5));

    [Fact]
    public void MatMulEpilogueTakesBiasActivationResidual()
    {
        var bias = Input("bias", DType.F32, Shape.Of(5));
        var res = Input("res", DType.F32, Shape.Of(4, 5));
        var y = Binary(Op.Add, Unary(Op.Gelu, Binary(Op.Add, MatMul(A, B), bias)), res);
        var g = new Graph([A, B, bias, res], [y]);
        var after = PassTestKit.RunPass(new Fusion(), g);
        PassTestKit.AssertSameResults(g, after);
        var f = after.Outputs[0];
        Assert.Equal(Op.Fused, f.Op);
        Assert.Equal(FusedKinds.MatMulEpilogue, f.Attr<FusedAttrs>().Kind);
        Assert.Equal(
            """
            graph(in0: float32[4, 8], in1: float32[8, 5], in2: float32[4, 5], in3: float32[4, 5]) {
              %0 = input(name=in0) : float32[4, 8]
              %1 = input(name=in1) : float32[8, 5]
              %2 = input(name=in2) : float32[4, 5]
              %3 = input(name=in3) : float32[4, 5]
              %4 = matmul(%0, %1) : float32[4, 5]
              %5 = add(%4, %2) : float32[4, 5]
              %6 = gelu(%5) : float32[4, 5]
              %7 = add(%6, %3) : float32[4, 5]
              return out=%7
            }

            """,
            IrPrinter.Print(f.Attr<FusedAttrs>().Body));
    }

    [Fact]
    public void ReductionTakesProducersAndConsumers()
    {
        // rsqrt(mean(a*a) + eps): producer mul, reduce, consumers add and rsqrt.
        var r = Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, A, A), [-1], keepDim: true), 1e-6));
        var g = new Graph([A], [r]);
        var after = PassTestKit.RunPass(new Fusion(), g);
        PassTestKit.AssertSameResults(g, after);
        Assert.Equal(FusedKinds.Reduce, after.Outputs[0].Attr<FusedAttrs>().Kind);
        Assert.Equal(1, KernelEstimate.Count(after));
    }

    [Fact]
    public void ProducerWithUsersOutsideTheGroupIsNotDuplicated()
    {
        // e = exp(a) feeds both a fused chain and the output: it must stay a separate kernel.
        var e = Unary(Op.Exp, A);
        var g = new Graph([A], [Unary(Op.Relu, Binary(Op.Mul, e, 2.0)), e]);
        var singleOutput = PassTestKit.Context();
        singleOutput.Capabilities = global::Candle.Compiler.Backends.Cpu.CpuBackend.Instance.Capabilities with { FusedKinds = new HashSet<string> { FusedKinds.Elementwise } };
        var after = PassManager.RunOne(new Fusion(), g, singleOutput);
        PassTestKit.AssertSameResults(g, after);
        Assert.Single(after.Nodes, n => n.Op == Op.Exp);
        Assert.Equal(2, KernelEstimate.Count(after));
    }

    [Fact]
    public void WithoutReduceGroupsAReductionJoinsOnlyTheReduceBroadcastGroupReadingIt()
    {
        // A target listing reduce_broadcast but not reduce (the GPU): softmax written from primitives is one group with
        // both reductions, while sum(a·a) over the rows stays a bare reduction beside its elementwise producer.
        var e = Unary(Op.Exp, Binary(Op.Sub, A, Reduce(Op.Max, A, [-1], keepDim: true)));
        var softmax = Binary(Op.Div, e, Reduce(Op.Sum, e, [-1], keepDim: true));
        var squares = Reduce(Op.Sum, Unary(Op.Exp, Binary(Op.Mul, A, A)), [-1]);
        var g = new Graph([A], [softmax, squares]);
        var context = PassTestKit.Context();
        context.Capabilities = global::Candle.Compiler.Backends.Cpu.CpuBackend.Instance.Capabilities with
        {
            FusedKinds = new HashSet<string> { FusedKinds.Elementwise, FusedKinds.ReduceBroadcast },
        };
        var after = PassManager.RunOne(new Fusion(), g, context);
        PassTestKit.AssertSameResults(g, after);
        var row = after.Outputs[0];
        Assert.Equal(FusedKinds.ReduceBroadcast, row.Attr<FusedAttrs>().Kind);
        Assert.Equal(2, row.Attr<FusedAttrs>().Body.Nodes.Count(n => n.Op.IsReduce()));
        Assert.Equal(Op.Sum, after.Outputs[1].Op);
        Assert.Equal(FusedKinds.Elementwise, after.Outputs[1].Inputs[0].Attr<FusedAttrs>().Kind);
        Assert.DoesNotContain(after.Nodes, n => n.Op == Op.Fused && n.Attr<FusedAttrs>().Kind == FusedKinds.Reduce);
    }

    [Fact]
    public void AnOutputUsedOnlyInsideAGroupIsAFurtherOutputOfIt()
    {
        // With multi-output groups, e joins the chain as its second output: one kernel computes exp once and writes both.
        var e = Unary(Op.Exp, A);
        var g = new Graph([A], [Unary(Op.Relu, Binary(Op.Mul, e, 2.0)), e]);
        var after = PassTestKit.RunPass(new Fusion(), g);
        PassTestKit.AssertSameResults(g, after);
        Assert.Equal(1, KernelEstimate.Count(after));
        var body = after.Outputs[0].Attr<FusedAttrs>().Body;
        Assert.Same(body, after.Outputs[1].Attr<FusedAttrs>().Body);
        Assert.Equal([0, 1], after.Outputs.Select(o => o.Attr<FusedAttrs>().Output));
        Assert.Single(body.Nodes, n => n.Op == Op.Exp);
        Assert.Same(body.Outputs[1], body.Nodes.Single(n => n.Op == Op.Exp));
    }

    [Fact]
    public void DiamondThroughAnotherKernelIsNotMerged()
    {
        // t = tanh(a); s = sum(t) is a separate kernel between t and the consumer: merging t with the consumer
        // would need s inside too, so t is shared, never duplicated and never cyclic.
        var t = Unary(Op.Tanh, A);
        var s = Reduce(Op.Sum, t, [0, 1], keepDim: false);
        var y = Binary(Op.Mul, t, Binary(Op.Mul, Reshape(s, 1, 1), Full(1, DType.F32, Shape.Of(1, 1))));
        var g = new Graph([A], [y]);
        var df = DataflowGraph.Build(g);
        foreach (var grp in Fusion.FindGroups(g)) Assert.False(df.MergingCreatesCycle(grp.Members));
        var after = PassTestKit.RunPass(new Fusion(), g);
        PassTestKit.AssertSameResults(g, after);
        Assert.True(DataflowGraph.Build(after).IsAcyclic);
        Assert.Single(after.Nodes, n => n.Op == Op.Tanh);
    }

    [Fact]
    public void SymbolicFillsStayInputsWhenNothingElseDefinesTheirSymbols()
    {
        var seq = Dim.Sym("seq");
        var x = Input("x", DType.F32, new Shape(seq, 4));
        var f = Unary(Op.Relu, Binary(Op.Add, Full(1, DType.F32, new Shape(seq, 4)), Full(2, DType.F32, new Shape(seq, 4))));
        var g = new Graph([x], [f, Unary(Op.Exp, Binary(Op.Mul, x, 3.0))]);
        var after = PassTestKit.RunPass(new Fusion(), g);
        Assert.Equal(2, after.Nodes.Count(n => n.Op == Op.Fused));
        Assert.All(after.Outputs[0].Inputs, i => Assert.Equal(Op.Full, i.Op)); // no body input would define "seq"
        Assert.Single(after.Outputs[1].Inputs); // x defines "seq": the fill 3 is inlined
    }

    [Fact]
    public void TransformerBlockKernelCountsBeforeAndAfterO2()
    {
        var g = TransformerBlock.Build();
        var before = KernelEstimate.Count(g);
        foreach (int level in new[] { 1, 2, 3 })
        {
            var ctx = PassTestKit.Context(level);
            var after = PassManager.CreateDefault().Run(g, ctx);
            PassTestKit.AssertSameResults(g, after, rtol: 1e-4, atol: 1e-4);
            output.WriteLine($"O{level}: kernels {before} -> {KernelEstimate.Count(after)}, nodes {g.Nodes.Count} -> {after.Nodes.Count}");
            output.WriteLine(ctx.Report.ToString());
            if (level >= 2)
            {
                Assert.True(KernelEstimate.Count(after) < before / 2, $"O{level} left {KernelEstimate.Count(after)} of {before} kernels");
                Assert.Contains(after.Nodes, n => n.Op == Op.Attention);
                Assert.Contains(after.Nodes, n => n.Op == Op.RmsNorm);
                Assert.Contains(after.Nodes, n => n.Op == Op.Rope);
            }
        }
    }
}
