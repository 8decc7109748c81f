using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Loading a plan with <see cref="PlanLoadOptions.KernelGenerator"/>: the generated kernels are rebuilt from the keys in
/// the plan's listing and the embedded assembly is never loaded, so a plan whose embedded code was replaced still runs
/// the kernels its listing describes (checked against the reference interpreter), and a hostile listing fails with a
/// <see cref="PlanFormatException"/> naming the kernel.
/// </summary>
public sealed class KernelRegenerationTests : IDisposable
{
    private static readonly PlanLoadOptions Regenerate = new() { KernelGenerator = CpuKernelGenerator.Instance };
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-regen-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Generated kernels of several shapes: a GEMM epilogue, a broadcast, a comparison with where, a cast, a constant.</summary>
    private static Graph Model()
    {
        var rng = new Random(11);
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 16));
        var h = Unary(Op.Gelu, Linear(x, ModelTests.Weight(rng, "w", 16, 16), ModelTests.Weight(rng, "b", 16)));
        var gate = Binary(Op.Gt, h, 0.25);
        var y = Where(gate, Unary(Op.Sigmoid, x), Binary(Op.Mul, h, -1.5));
        var z = Cast(Cast(y, DType.BF16), DType.F32);
        return new Graph([x], [z], ["z"]);
    }

    private static HostTensor[] Inputs(int n) => [CpuHarness.Random(new Random(n), DType.F32, [n, 16])];

    [Fact]
    public void A_regenerated_plan_matches_the_reference_and_the_embedded_kernels()
    {
        var graph = Model();
        var plan = CandleCompiler.Compile(graph);
        Assert.Contains(plan.Definition.Steps, s => s.Kernel.Contains("gen:", StringComparison.Ordinal));
        string path = Path.Combine(_dir, "ok.plan");
        plan.Save(path);
        using var regenerated = Plan.Load(path, Regenerate);
        foreach (int n in new[] { 1, 7 })
        {
            var want = Candle.Compiler.Backends.Reference.ReferenceInterpreter.Run(graph, Inputs(n))[0].ToFloat64();
            var embedded = plan.Run(Inputs(n))[0];
            var got = regenerated.Run(Inputs(n))[0];
            Assert.True(embedded.Data.Span.SequenceEqual(got.Data.Span), "regenerated kernels differ from the embedded ones");
            var g = got.ToFloat64();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - g[i]) <= 1e-2 * (1 + Math.Abs(want[i])), $"element {i}: {g[i]} vs reference {want[i]}");
        }
    }

    [Fact]
    public void The_embedded_assembly_is_not_loaded()
    {
        var plan = CandleCompiler.Compile(Model());
        string path = Path.Combine(_dir, "swapped.plan");
        // Replace the embedded code with bytes that are no assembly at all (valid hashes: written as a whole file).
        var garbage = new byte[plan.KernelAssemblyBytes!.Length];
        new Random(3).NextBytes(garbage);
        PlanFile.Write(plan.Definition, garbage, plan.KernelDump, plan.Weights, path, null);

        Assert.Throws<PlanFormatException>(() => Plan.Load(path));
        using var regenerated = Plan.Load(path, Regenerate);
        Assert.True(plan.Run(Inputs(5))[0].Data.Span.SequenceEqual(regenerated.Run(Inputs(5))[0].Data.Span));
    }

    [Theory]
    [InlineData("body=[", "body=[in9; ", "input 9")]
    [InlineData("out=float32", "out=int64", "int64")]
    [InlineData("ew r", "ew r99", "rank 99")]
    public void A_hostile_listing_fails_naming_the_kernel(string find, string replace, string expected)
    {
        var plan = CandleCompiler.Compile(Model());
        string dump = plan.KernelDump;
        int at = dump.IndexOf("  // ew r", StringComparison.Ordinal);
        int end = dump.IndexOf('\n', at);
        string line = dump[at..end];
        string hostile = dump[..at] + line.Replace(find, replace, StringComparison.Ordinal) + dump[end..];
        Assert.NotEqual(dump, hostile);
        string path = Path.Combine(_dir, "hostile.plan");
        PlanFile.Write(plan.Definition, plan.KernelAssemblyBytes, hostile, plan.Weights, path, null);
        var e = Assert.Throws<PlanFormatException>(() => Plan.Load(path, Regenerate));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("generated kernel 'k", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_op_reading_a_later_op_is_rejected()
    {
        var spec = Candle.Compiler.Scheduling.ElementwiseSpecKey.Parse("ew r1 out=float32 in=[float32:contiguous] body=[in0; exp:float32(0)]");
        Assert.Equal(2, spec.Body.Count);
        var e = Assert.Throws<FormatException>(() => Candle.Compiler.Scheduling.ElementwiseSpecKey.Parse("ew r1 out=float32 in=[float32:contiguous] body=[exp:float32(1); in0]"));
        Assert.Contains("not an earlier op", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<FormatException>(() => Candle.Compiler.Scheduling.ElementwiseSpecKey.Parse("ew r1 out=float32 in=[float32:contiguous] body=[in0; add:float32(0)]"));
        Assert.Contains("1 arguments, not 2", e.Message, StringComparison.Ordinal);
    }
}
