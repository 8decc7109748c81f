using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Backends;

/// <summary><see cref="CompileOptions.Progress"/>: one report per pass that ran (as the pipeline report lists them), then lowering, then the end with the plan's kernel calls.</summary>
public class CompileProgressTests
{
    private sealed class Collect : IProgress<CompileProgress>
    {
        public List<CompileProgress> Items { get; } = [];

        public void Report(CompileProgress value) => Items.Add(value);
    }

    [Fact]
    public void Each_pass_then_lowering_then_the_end_are_reported_in_order()
    {
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n"), 8));
        var w = Input("w", DType.F32, new Shape(8, 8));
        var g = new Graph([x, w], [Unary(Op.Gelu, Binary(Op.Add, MatMul(x, w), Binary(Op.Mul, x, 0.5)))]);
        var sink = new Collect();
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { OptLevel = 2, Progress = sink }, out var report);

        var passes = sink.Items.Where(p => p.Phase == CompilePhase.Pass).ToList();
        Assert.NotEmpty(passes);
        Assert.Equal(report.Passes.Select(r => r.Pass), passes.Select(p => p.Name));
        Assert.Equal(Enumerable.Range(1, passes.Count), passes.Select(p => p.PassesRun));
        Assert.Equal([CompilePhase.Lowering, CompilePhase.Done], sink.Items.Skip(passes.Count).Select(p => p.Phase));
        var done = sink.Items[^1];
        Assert.Equal("cpu", done.Name);
        Assert.Equal(report.KernelsRun ?? -1, done.KernelCalls);
        Assert.True(done.KernelCalls > 0);
        Assert.Equal(passes[^1].Nodes, done.Nodes);
    }

    [Fact]
    public void Without_a_receiver_nothing_changes()
    {
        var x = Input("x", DType.F32, new Shape(4));
        using var exe = CandleCompiler.CompileExecutable(new Graph([x], [Unary(Op.Exp, x)]), new CompileOptions(), out var report);
        Assert.NotEmpty(report.Passes);
    }
}
