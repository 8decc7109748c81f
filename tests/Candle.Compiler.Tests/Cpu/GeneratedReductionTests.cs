using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Generated reductions (<see cref="ReductionSpec"/>): a reduction with its elementwise producer and consumer is one
/// generated kernel, vectorized along the reduced axis or along the kept one, at every vector width and thread count;
/// plans rebuilt from their listing's keys run the same kernels; hostile keys are refused.
/// </summary>
public sealed class GeneratedReductionTests : IDisposable
{
    private static readonly Dim N = Dim.Sym("n");
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-reduce-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>x [n, 40]: rms-style, over the leading axis (columns), with a broadcast weight, and a full reduction.</summary>
    private static Graph Model()
    {
        var x = Input("x", DType.F32, new Shape(N, 40));
        var w = ModelTests.Weight(new Random(3), "w", 40);
        return new Graph(
            [x],
            [
                Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, x, x), [1], true), 1e-6)),
                Unary(Op.Sqrt, Reduce(Op.Sum, Binary(Op.Mul, Unary(Op.Exp, x), w), [0])),
                Reduce(Op.Max, Unary(Op.Abs, x), [0, 1]),
            ],
            ["rms", "columns", "all"]);
    }

    private static HostTensor[] Inputs(int n) => [CpuHarness.Random(new Random(n), DType.F32, [n, 40], -2, 2)];

    [Theory]
    [InlineData(0, 0)]
    [InlineData(128, 1)]
    [InlineData(256, 3)]
    [InlineData(512, 2)]
    public void Fused_reductions_are_one_generated_kernel_each_and_match_the_reference(int vectorBits, int threads)
    {
        var plan = new CpuBackend(vectorBits).CompilePlan(Model(), new CompileOptions { OptLevel = 2, Threads = threads });
        Assert.DoesNotContain(plan.Definition.Steps, s => s.Kernel.StartsWith("rt:reduce", StringComparison.Ordinal));
        Assert.Equal(3, plan.Definition.Steps.Count(s => s.Kernel.StartsWith("gen:", StringComparison.Ordinal)));
        Assert.Contains(" rows ", plan.KernelDump, StringComparison.Ordinal);
        Assert.Contains(" columns ", plan.KernelDump, StringComparison.Ordinal);
        foreach (int n in new[] { 1, 3, 17, 100 })
        {
            CpuHarness.CheckAgainstReference(Model(), Inputs(n), 1e-5, 1e-5, plan: plan);
        }
    }

    [Theory]
    [InlineData(DType.F32, 1)]
    [InlineData(DType.F32, 3)]
    [InlineData(DType.F16, 17)]
    [InlineData(DType.BF16, 1000)]
    public void Prod_min_and_mean_over_odd_sizes_match_the_reference(DType dt, int size)
    {
        // prod of values near 1 (no overflow) along the last, a middle and the first axis; min and mean with consumers.
        var x = Input("x", dt, Shape.Of(2, size, 3));
        var near1 = Binary(Op.Add, Binary(Op.Mul, x, 0.01), 1.0);
        var g = new Graph(
            [x],
            [
                Reduce(Op.Prod, near1, [2]),
                Reduce(Op.Prod, near1, [1], true),
                Reduce(Op.Prod, near1, [0]),
                Unary(Op.Exp, Reduce(Op.Min, x, [1])),
                Binary(Op.Sub, Reduce(Op.Mean, x, [0, 1, 2]), 1.0),
            ]);
        var (atol, rtol) = dt switch { DType.F16 => (2e-2, 1e-2), DType.BF16 => (1e-1, 3e-2), _ => (1e-5, 1e-5) };
        CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(new Random(size), dt, [2, size, 3], -1, 1)], atol, rtol);
    }

    [Fact]
    public void A_regenerated_plan_with_reductions_matches_the_embedded_kernels()
    {
        var plan = CandleCompiler.Compile(Model());
        string path = Path.Combine(_dir, "reduce.plan");
        plan.Save(path);
        using var regenerated = Plan.Load(path, new PlanLoadOptions { KernelGenerator = CpuKernelGenerator.Instance });
        foreach (int n in new[] { 1, 9 })
        {
            var embedded = plan.Run(Inputs(n));
            var got = regenerated.Run(Inputs(n));
            for (int o = 0; o < got.Length; o++) Assert.True(embedded[o].Data.Span.SequenceEqual(got[o].Data.Span), $"output {o} differs");
        }
    }

    [Fact]
    public void Every_key_reads_back_as_the_spec_it_describes()
    {
        var kg = Scheduler.Schedule(CandleCompiler.Optimize(Model()), generateReductions: true);
        var specs = kg.Calls.OfType<ReductionCall>().Select(c => c.Kernel).ToList();
        Assert.Equal(3, specs.Count);
        foreach (var spec in specs) Assert.Equal(spec.Key, ElementwiseSpecKey.ParseReduction(spec.Key).Key);
    }

    [Theory]
    [InlineData("red r2 q1 rows out=float32 in=[float32:contiguous] body=[in0; sum:float32(0); sum:float32(1)]", "2 accumulators")]
    [InlineData("red r2 q1 rows out=float32 in=[float32:contiguous, float32:broadcast] body=[in0; exp:float32(0); sum:float32(1); add:float32(2,1)]", "consumer op reads a producer op")]
    [InlineData("red r2 q1 diagonal out=float32 in=[float32:contiguous] body=[in0; sum:float32(0)]", "strategy")]
    [InlineData("red r2 q2 rows out=float32 in=[float32:contiguous] body=[in0; sum:float32(0)]", "reduced rank 2")]
    [InlineData("red r2 q1 rows out=float32 in=[float32:contiguous] body=[in0; argmax:float32(0)]", "unknown elementwise op 'argmax'")]
    [InlineData("red r2 q1 rows out=float32 in=[float32:contiguous] body=[in0; sum:bool(0)]", "accumulates into bool")]
    public void A_hostile_reduction_key_is_refused(string key, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ElementwiseSpecKey.ParseReduction(key));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_generated_kernels_reductions_run_as_library_kernels()
    {
        var plan = new CpuBackend(generateKernels: false).CompilePlan(Model(), new CompileOptions { OptLevel = 2 });
        Assert.Null(plan.KernelAssemblyBytes);
        Assert.Contains(plan.Definition.Steps, s => s.Kernel == "rt:reduce");
        CpuHarness.CheckAgainstReference(Model(), Inputs(5), 1e-5, 1e-5, plan: plan);
    }
}
