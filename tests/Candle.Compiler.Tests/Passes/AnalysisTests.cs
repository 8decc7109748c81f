using Candle.Compiler.Analysis;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

public class AnalysisTests
{
    private static readonly Node X = Input("x", DType.F32, Shape.Of(1000));
    private static readonly Node Y = Input("y", DType.F32, Shape.Of(1000));

    [Fact]
    public void TopologicalOrderPutsOperandsFirst()
    {
        var a = Unary(Op.Exp, X);
        var b = Unary(Op.Log, X);
        var g = new Graph([X], [Binary(Op.Add, a, b)]);
        var df = DataflowGraph.Build(g);
        var order = df.TopologicalOrder();
        Assert.Equal(g.Nodes.Count, order.Count);
        var pos = order.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i);
        foreach (var n in order)
        {
            foreach (var i in n.Inputs) Assert.True(pos[i] < pos[n]);
        }

        Assert.True(df.IsAcyclic);
    }

    [Fact]
    public void IndirectPathIsWhatForbidsFusion()
    {
        // x -> a -> c and x -> c directly: fusing x's producer edge (a? no: x into c) is illegal only through a.
        var a = Unary(Op.Exp, X);
        var c = Binary(Op.Add, X, a);
        var g = new Graph([X], [c]);
        var df = DataflowGraph.Build(g);
        Assert.True(df.HasIndirectPath(X, c));
        Assert.False(df.HasIndirectPath(a, c));
        Assert.True(df.HasPath(X, c));
        Assert.False(df.HasPath(c, X));
        // Collapsing {x, c} would leave a outside on a path x -> a -> c: a cycle; {x, a, c} is fine.
        Assert.True(df.MergingCreatesCycle(new HashSet<Node>([X, c], ReferenceEqualityComparer.Instance)));
        Assert.False(df.MergingCreatesCycle(new HashSet<Node>([X, a, c], ReferenceEqualityComparer.Instance)));
    }

    [Fact]
    public void DominatorsAndPostDominatorsOfADiamond()
    {
        // x -> e -> (s1, s2) -> m -> out
        var e = Unary(Op.Exp, X);
        var s1 = Unary(Op.Sin, e);
        var s2 = Unary(Op.Cos, e);
        var m = Binary(Op.Mul, s1, s2);
        var o = Unary(Op.Neg, m);
        var df = DataflowGraph.Build(new Graph([X], [o]));
        var dom = DominatorTree.Dominators(df);
        Assert.Same(e, dom.ImmediateDominator(m));
        Assert.Same(e, dom.ImmediateDominator(s1));
        Assert.True(dom.Dominates(X, o));
        Assert.False(dom.Dominates(s1, m));
        var post = DominatorTree.PostDominators(df);
        Assert.Same(m, post.ImmediateDominator(e));
        Assert.Same(m, post.ImmediateDominator(s2));
        Assert.True(post.Dominates(o, X));
        Assert.False(post.Dominates(s2, e));
    }

    [Fact]
    public void SchedulingLowersPeakLiveBytes()
    {
        // Default order computes a = exp(x) (4000 B) first and keeps it while y's chain holds two 4000 B buffers.
        var a = Unary(Op.Exp, X);
        var b3 = Reduce(Op.Sum, Unary(Op.Exp, Unary(Op.Exp, Y)), [0], keepDim: true);
        var g = new Graph([X, Y], [Binary(Op.Mul, a, b3)]);
        var s = MemoryAwareScheduling.Compute(g);
        Assert.Equal(12000, s.PeakBytesBefore);
        Assert.Equal(8004, s.PeakBytesAfter);
        Assert.Equal(8004, MemoryEstimate.PeakLiveBytes(g, s.Order));
        var ctx = PassTestKit.Context(3);
        var after = PassManager.RunOne(new MemoryAwareScheduling(), g, ctx);
        Assert.Same(g, after);
        Assert.Same(Schedule.For(g), ctx.Analyses[MemoryAwareScheduling.AnalysisKey]);
    }

    [Fact]
    public void KernelEstimateIgnoresLeavesAndFreeViews()
    {
        var m = Input("m", DType.F32, Shape.Of(2, 3));
        var g = new Graph([m], [Unary(Op.Exp, Binary(Op.Add, Reshape(m, 3, 2), Full(1, DType.F32, Shape.Of(3, 2))))]);
        Assert.Equal(2, KernelEstimate.Count(g));
    }
}
