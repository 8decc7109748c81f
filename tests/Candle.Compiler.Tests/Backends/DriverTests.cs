using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Tests.Backends;

/// <summary>The driver runs the pass pipeline once for the target's capabilities and hands the result to the backend.</summary>
public class DriverTests
{
    private sealed class RecordingBackend(BackendCapabilities capabilities) : IBackend
    {
        public Graph? Lowered { get; private set; }

        public string Name => "recording";

        public BackendCapabilities Capabilities => capabilities;

        public bool IsAvailable => true;

        public IExecutable Lower(Graph optimizedGraph, CompileOptions options)
        {
            Lowered = optimizedGraph;
            return ReferenceBackend.Instance.Lower(optimizedGraph, options);
        }
    }

    // x * 1 + 0: algebraic simplification leaves x.
    private static Graph Identity()
    {
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(4));
        return new Graph([x], [IrBuilder.Binary(Op.Add, IrBuilder.Binary(Op.Mul, x, 1.0), 0.0)]);
    }

    [Fact]
    public void The_backend_lowers_the_graph_the_pipeline_optimized_for_its_capabilities()
    {
        var backend = new RecordingBackend(CpuBackend.Instance.Capabilities);
        var g = Identity();
        using var exe = backend.Compile(g, new CompileOptions { OptLevel = 2 });
        Assert.NotNull(backend.Lowered);
        Assert.Equal(Op.Input, backend.Lowered!.Outputs[0].Op);

        using var unoptimized = backend.Compile(g, new CompileOptions { OptLevel = 0 });
        Assert.Equal(Op.Add, backend.Lowered!.Outputs[0].Op);
    }

    [Fact]
    public void A_backend_that_runs_graphs_as_written_gets_them_unchanged()
    {
        var backend = new RecordingBackend(ReferenceBackend.Instance.Capabilities);
        var g = Identity();
        using var exe = backend.Compile(g, new CompileOptions { OptLevel = 3 });
        Assert.Same(g, backend.Lowered);
        var x = HostTensor.FromArray(new float[] { 1, 2, 3, 4 }, 4);
        Assert.Equal([1f, 2, 3, 4], exe.Run([x])[0].ToFloat32());
    }

    [Fact]
    public void Compile_returns_a_plan_and_refuses_a_backend_without_plans()
    {
        using var plan = CandleCompiler.Compile(Identity());
        Assert.Equal([2f], plan.Run([HostTensor.FromArray(new float[] { 2, 0, 0, 0 }, 4)])[0].ToFloat32()[..1]);
        var e = Assert.Throws<NotSupportedException>(() => CandleCompiler.Compile(Identity(), new CompileOptions { Backend = ReferenceBackend.Instance }));
        Assert.Contains("reference", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_registry_resolves_built_in_and_registered_backends_and_names_the_known_ones()
    {
        Assert.Same(CpuBackend.Instance, BackendRegistry.Get("cpu"));
        Assert.Same(ReferenceBackend.Instance, BackendRegistry.Get("reference"));
        var mine = new RecordingBackend(CpuBackend.Instance.Capabilities);
        BackendRegistry.Register("recording-test", () => mine);
        Assert.Same(mine, BackendRegistry.Get("recording-test"));
        var e = Assert.Throws<ArgumentException>(() => BackendRegistry.Get("tpu"));
        Assert.Contains("'tpu'", e.Message, StringComparison.Ordinal);
        Assert.Contains("cpu", e.Message, StringComparison.Ordinal);
        Assert.Contains("reference", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disposed_plan_refuses_to_run()
    {
        var plan = CandleCompiler.Compile(Identity());
        plan.Dispose();
        plan.Dispose();
        Assert.Throws<ObjectDisposedException>(() => plan.Run([HostTensor.FromArray(new float[4], 4)]));
    }

    [Fact]
    public void Fusion_forms_only_the_kinds_the_target_compiles_and_the_report_counts_the_kernels_that_run()
    {
        // exp(x) summed over rows, then scaled: a "reduce" group for a target that fuses reductions.
        var x = IrBuilder.Input("x", DType.F32, Shape.Of(8, 16));
        var s = IrBuilder.Reduce(Op.Sum, IrBuilder.Unary(Op.Exp, x), [1]);
        var g = new Graph([x], [IrBuilder.Binary(Op.Mul, IrBuilder.Unary(Op.Sqrt, s), 2.0)]);

        var all = new PassContext(2);
        var fusedAll = new PassManager([new Fusion()]).Run(g, all);
        Assert.Contains(fusedAll.Nodes, n => n.Op == Op.Fused && n.Attr<FusedAttrs>().Kind == FusedKinds.Reduce);

        // A CPU without generated reductions runs the sum as the runtime's row kernel: no reduce group.
        var library = new CpuBackend(generateReductions: false);
        var fusedLibrary = new PassManager([new Fusion()]).Run(g, new PassContext(2) { Capabilities = library.Capabilities });
        Assert.DoesNotContain(fusedLibrary.Nodes, n => n.Op == Op.Fused && n.Attr<FusedAttrs>().Kind != FusedKinds.Elementwise);
        using (var libraryExe = CandleCompiler.CompileExecutable(g, new CompileOptions { OptLevel = 2, Backend = library }, out var libraryReport))
        {
            var libraryPlan = Assert.IsType<Runtime.Plans.Plan>(libraryExe);
            Assert.Equal(libraryPlan.Definition.Steps.Count, libraryReport.KernelsRun);

            // exp, the row sum, and the fused sqrt·2: three kernels.
            Assert.Equal(3, libraryReport.KernelsRun);
        }

        // The default CPU generates the reduction with its producer and consumer: one kernel.
        var cpu = new PassContext(2) { Capabilities = CpuBackend.Instance.Capabilities };
        var fusedCpu = new PassManager([new Fusion()]).Run(g, cpu);
        Assert.Contains(fusedCpu.Nodes, n => n.Op == Op.Fused && n.Attr<FusedAttrs>().Kind == FusedKinds.Reduce);
        using var exe = CandleCompiler.CompileExecutable(g, new CompileOptions { OptLevel = 2 }, out var report);
        var plan = Assert.IsType<Runtime.Plans.Plan>(exe);
        Assert.Equal(plan.Definition.Steps.Count, report.KernelsRun);
        Assert.Equal(1, report.KernelsRun);
        Assert.StartsWith("gen:", plan.Definition.Steps[0].Kernel, StringComparison.Ordinal);
        var input = HostTensor.FromArray([.. Enumerable.Range(0, 128).Select(i => (float)(i % 7) / 7)], 8, 16);
        var expected = ReferenceInterpreter.Run(g, [input])[0].ToFloat32();
        var actual = plan.Run([input])[0].ToFloat32();
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Abs(expected[i]), $"{i}: {actual[i]} vs {expected[i]}");
    }
}
