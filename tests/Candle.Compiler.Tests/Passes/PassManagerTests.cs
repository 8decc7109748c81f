using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Passes;

public class PassManagerTests
{
    private sealed class RecordingPass(string name, int level = 1) : IPass
    {
        public int Runs { get; private set; }

        public PassInfo Info { get; } = new(name, level);

        public Graph Run(Graph graph, PassContext context)
        {
            Runs++;
            return graph;
        }
    }

    private sealed class BadPass : IPass
    {
        public PassInfo Info { get; } = new("bad", 0);

        // Uses an Input node the graph does not declare: the verifier must reject it.
        public Graph Run(Graph graph, PassContext context) =>
            graph.WithOutputs([Binary(Op.Add, graph.Outputs[0], Input("stray", DType.F32, graph.Outputs[0].Shape))]);
    }

    private sealed class Recorder : IPassInstrument
    {
        public List<string> Events { get; } = [];

        public void BeforePass(IPass pass, Graph graph, PassContext context) => Events.Add("before " + pass.Info.Name);

        public void AfterPass(IPass pass, Graph before, Graph after, PassRecord record, PassContext context) => Events.Add("after " + pass.Info.Name);
    }

    private static Graph Small()
    {
        var x = Input("x", DType.F32, Shape.Of(4));
        return new Graph([x], [Unary(Op.Relu, Binary(Op.Add, Binary(Op.Mul, x, 1.0), 0.0))]);
    }

    [Fact]
    public void PipelinesPerOptLevel()
    {
        var pm = PassManager.CreateDefault();
        Assert.Equal(["decompose-composites"], pm.PipelineFor(0));
        Assert.Equal(["canonicalize", "constant-folding", "decompose-composites", "cse", "dce"], pm.PipelineFor(1));
        Assert.Equal(
            ["canonicalize", "constant-folding", "algebraic-simplification", "conv-affine-folding", "pattern-recognition", "decompose-composites", "cse", "matmul-merging", "layout", "fusion", "dce"],
            pm.PipelineFor(2));
        Assert.Contains("weight-prepacking", pm.PipelineFor(3));
        Assert.Contains("memory-aware-scheduling", pm.PipelineFor(3));
        pm.Validate();
    }

    [Fact]
    public void UserPassesAreInsertedByName()
    {
        var mine = new RecordingPass("my-pass", 2);
        var pm = PassManager.CreateDefault().InsertAfter("pattern-recognition", mine);
        var names = pm.PipelineFor(2).ToList();
        Assert.Equal(names.IndexOf("pattern-recognition") + 1, names.IndexOf("my-pass"));
        pm.InsertBefore("fusion", new RecordingPass("before-fusion", 2));
        Assert.Equal(pm.PipelineFor(2).ToList().IndexOf("fusion") - 1, pm.PipelineFor(2).ToList().IndexOf("before-fusion"));
        Assert.Throws<KeyNotFoundException>(() => pm.InsertAfter("no-such-pass", new RecordingPass("x")));
        Assert.Throws<ArgumentException>(() => pm.Add(new RecordingPass("my-pass")));
        pm.Run(Small(), PassTestKit.Context(2));
        Assert.Equal(1, mine.Runs);
        pm.Run(Small(), PassTestKit.Context(1));
        Assert.Equal(1, mine.Runs);
    }

    [Fact]
    public void DisabledPassesAreSkipped()
    {
        var pm = PassManager.CreateDefault();
        var ctx = PassTestKit.Context(2);
        ctx.DisabledPasses.Add("algebraic-simplification");
        ctx.DisabledPasses.Add("fusion");
        var g = pm.Run(Small(), ctx);
        Assert.DoesNotContain(ctx.Report.Passes, p => p.Pass is "algebraic-simplification" or "fusion");
        Assert.Contains(g.Nodes, n => n.Op == Op.Mul);
    }

    [Fact]
    public void InstrumentsAndReportSeeEveryPass()
    {
        var rec = new Recorder();
        var ctx = PassTestKit.Context(2);
        ctx.Instruments.Add(rec);
        var g = PassManager.CreateDefault().Run(Small(), ctx);
        var ran = ctx.Report.Passes.Select(p => p.Pass).ToList();
        Assert.Equal(PassManager.CreateDefault().PipelineFor(2), ran);
        Assert.Equal(ran.SelectMany(n => new[] { "before " + n, "after " + n }), rec.Events);
        Assert.Equal(3, ctx.Report.InitialKernels); // mul, add, relu
        Assert.Equal(1, ctx.Report.FinalKernels); // relu alone after x*1+0 → x
        Assert.Contains("algebraic-simplification", ctx.Report.ToString(), StringComparison.Ordinal);
        Assert.Single(g.Nodes, n => n.Op == Op.Relu);
    }

    [Fact]
    public void VerifierAfterEachPassNamesTheFaultyPass()
    {
        var pm = new PassManager([new BadPass()]);
        var ex = Assert.Throws<PassVerificationException>(() => pm.Run(Small(), PassTestKit.Context(0)));
        Assert.Equal("bad", ex.PassName);
        Assert.Contains("stray", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingRequirementIsReported()
    {
        var pm = new PassManager([new WeightPrepacking()]);
        var ex = Assert.Throws<InvalidOperationException>(pm.Validate);
        Assert.Contains("'layout'", ex.Message, StringComparison.Ordinal);
    }
}
