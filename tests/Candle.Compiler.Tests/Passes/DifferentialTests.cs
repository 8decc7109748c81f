using Candle.Compiler.Analysis;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using CsCheck;

namespace Candle.Compiler.Tests.Passes;

/// <summary>Random graphs evaluated by the reference interpreter before and after every pass and pipeline agree.</summary>
public class DifferentialTests
{
    private const int Iterations = 60;

    public static TheoryData<string> PassNames() => [.. PassManager.CreateDefault().Passes.Select(p => p.Info.Name)];

    [Theory]
    [MemberData(nameof(PassNames))]
    public void EachPassPreservesResults(string name)
    {
        var pass = PassManager.CreateDefault()[name];
        RandomGraphs.Gen.Sample(
            g =>
            {
                var after = PassTestKit.RunPass(pass, g);
                PassTestKit.AssertSameResults(g, after, rtol: 1e-3, atol: 1e-4, what: $"{name}: ");
            },
            iter: Iterations,
            print: g => IrPrinter.Print(g));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PipelinesPreserveResults(int level)
    {
        RandomGraphs.Gen.Sample(
            g =>
            {
                var ctx = PassTestKit.Context(level);
                var after = PassManager.CreateDefault().Run(g, ctx);
                PassTestKit.AssertSameResults(g, after, rtol: 1e-3, atol: 1e-4);
                Assert.True(KernelEstimate.Count(after) <= KernelEstimate.Count(g) + 1);
            },
            iter: Iterations,
            print: g => IrPrinter.Print(g));
    }

    [Fact]
    public void DecompositionAfterRecognitionPreservesResults()
    {
        var pm = new PassManager([new AlgebraicSimplification(), new PatternRecognition(), new DecomposeComposites(DecomposeComposites.Supported)]);
        RandomGraphs.Gen.Sample(
            g =>
            {
                var after = pm.Run(g, PassTestKit.Context(2));
                Assert.DoesNotContain(after.Nodes, n => n.Op is Op.Softmax or Op.Gelu or Op.Silu);
                PassTestKit.AssertSameResults(g, after, rtol: 1e-3, atol: 1e-4);
            },
            iter: Iterations,
            print: g => IrPrinter.Print(g));
    }

    [Fact]
    public void FusionGroupsNeverCreateCycles()
    {
        RandomGraphs.Gen.Sample(
            g =>
            {
                var prepared = PassManager.CreateDefault().Remove("fusion").Remove("dce").Run(g, PassTestKit.Context(2));
                var df = DataflowGraph.Build(prepared);
                foreach (var group in Fusion.FindGroups(prepared))
                {
                    Assert.False(df.MergingCreatesCycle(group.Members));
                }

                var fused = PassTestKit.RunPass(new Fusion(), prepared);
                Assert.True(DataflowGraph.Build(fused).IsAcyclic);
                int computed = prepared.Nodes.Count(n => !n.Op.IsLeaf());
                // The nodes of a multi-output group share one body: it is counted once.
                int inBodies = fused.Nodes.Where(n => n.Op == Op.Fused).Select(n => n.Attr<FusedAttrs>().Body).Distinct(ReferenceEqualityComparer.Instance).Cast<Graph>()
                    .Sum(b => b.Nodes.Count(x => !x.Op.IsLeaf()));
                int outside = fused.Nodes.Count(n => !n.Op.IsLeaf() && n.Op != Op.Fused);
                Assert.Equal(computed, inBodies + outside); // nothing duplicated, nothing lost
            },
            iter: Iterations,
            print: g => IrPrinter.Print(g));
    }

    [Fact]
    public void DecomposedCompositesMatchTheReference()
    {
        var pm = new PassManager([new DecomposeComposites(DecomposeComposites.Supported)]);
        foreach (var g in CompositeGraphs.All())
        {
            var after = pm.Run(g, PassTestKit.Context(0));
            Assert.DoesNotContain(after.Nodes, n => DecomposeComposites.Supported.Contains(n.Op));
            PassTestKit.AssertSameResults(g, after, rtol: 1e-4, atol: 1e-5, what: g.Outputs[0].Op.Name() + ": ");
        }
    }
}
