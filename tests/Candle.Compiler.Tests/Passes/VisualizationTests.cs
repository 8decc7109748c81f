using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Visualization;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

public class VisualizationTests
{
    [Fact]
    public void DotHasClustersForFusedGroupsAndShapesOnEdges()
    {
        var x = Input("x", DType.F32, Shape.Of(4));
        var g = new Graph([x], [Unary(Op.Relu, Binary(Op.Add, Unary(Op.Exp, x), 1.0))]);
        var fused = PassTestKit.RunPass(new Fusion(), g);
        string dot = GraphDot.ToDot(fused);
        Assert.StartsWith("digraph", dot, StringComparison.Ordinal);
        Assert.Contains("subgraph cluster_0", dot, StringComparison.Ordinal);
        Assert.Contains("fused elementwise", dot, StringComparison.Ordinal);
        Assert.Contains("label=\"float32[4]\"", dot, StringComparison.Ordinal);
        Assert.Contains("exp", dot, StringComparison.Ordinal);
        Assert.Equal(dot.Count(c => c == '{'), dot.Count(c => c == '}'));
    }

    [Fact]
    public void DumpInstrumentWritesEveryPassAndASummary()
    {
        string dir = Path.Combine(Path.GetTempPath(), "candle-dump-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ctx = PassTestKit.Context(2);
            var dump = new DumpInstrument(dir);
            ctx.Instruments.Add(dump);
            var g = TransformerBlock.Build();
            PassManager.CreateDefault().Run(g, ctx);
            dump.WriteSummary(ctx);
            Assert.True(File.Exists(Path.Combine(dir, "00-input.txt")));
            Assert.True(File.Exists(Path.Combine(dir, "00-input.dot")));
            Assert.True(File.Exists(Path.Combine(dir, "10-fusion.dot")));
            Assert.Contains("fusion", File.ReadAllText(Path.Combine(dir, "summary.txt")), StringComparison.Ordinal);
            // SVGs exist exactly when Graphviz is installed; either way nothing fails.
            bool svg = GraphDot.TryRenderSvg("digraph { a -> b }", Path.Combine(dir, "probe.svg"));
            Assert.Equal(svg, File.Exists(Path.Combine(dir, "01-canonicalize.svg")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
