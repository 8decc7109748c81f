using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Compiler.Backends.Reference;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Reductions broadcast back over their rows (<see cref="BroadcastReductionSpec"/>): rms norm, softmax, layer norm and
/// log-softmax written from primitives are one generated kernel per row, match the reference interpreter over odd row
/// lengths, broadcast weights, strided and offset inputs, every vector width and thread count, and rebuild from keys.
/// </summary>
public sealed class BroadcastReductionTests
{
    /// <summary>The primitive forms, as models written without library norms trace them (x: [..., L], reduced over the last axis).</summary>
    internal static class Patterns
    {
        public static Node RmsNorm(Node x, Node w, double eps = 1e-6)
        {
            int last = x.Shape.Rank - 1;
            var r = Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, x, x), [last], keepDim: true), eps));
            return Binary(Op.Mul, Binary(Op.Mul, x, r), w);
        }

        public static Node Softmax(Node x)
        {
            int last = x.Shape.Rank - 1;
            var e = Unary(Op.Exp, Binary(Op.Sub, x, Reduce(Op.Max, x, [last], keepDim: true)));
            return Binary(Op.Div, e, Reduce(Op.Sum, e, [last], keepDim: true));
        }

        public static Node LayerNorm(Node x, Node w, Node b, int axes = 1, double eps = 1e-5)
        {
            int[] over = [.. Enumerable.Range(x.Shape.Rank - axes, axes)];
            var d = Binary(Op.Sub, x, Reduce(Op.Mean, x, over, keepDim: true));
            var variance = Reduce(Op.Mean, Binary(Op.Mul, d, d), over, keepDim: true);
            return Binary(Op.Add, Binary(Op.Mul, Binary(Op.Div, d, Unary(Op.Sqrt, Binary(Op.Add, variance, eps))), w), b);
        }

        public static Node LogSoftmax(Node x)
        {
            int last = x.Shape.Rank - 1;
            var d = Binary(Op.Sub, x, Reduce(Op.Max, x, [last], keepDim: true));
            return Binary(Op.Sub, d, Unary(Op.Log, Reduce(Op.Sum, Unary(Op.Exp, d), [last], keepDim: true)));
        }
    }

    /// <summary>
    /// Compiles <paramref name="g"/> through the default pipeline without pattern recognition (which turns the common
    /// forms into library norms), so that the primitives reach fusion as an importer or a backward graph leaves them.
    /// </summary>
    internal static Plan CompilePrimitives(Graph g, CpuBackend backend, int threads = 0) =>
        backend.LowerPlan(OptimizePrimitives(g, backend.Capabilities), new CompileOptions { OptLevel = 2, Threads = threads });

    /// <summary>The default pipeline at O2 for <paramref name="capabilities"/>, without pattern recognition.</summary>
    internal static Graph OptimizePrimitives(Graph g, BackendCapabilities capabilities)
    {
        var context = new PassContext(2) { Capabilities = capabilities };
        context.DisabledPasses.Add("pattern-recognition");
        return PassManager.CreateDefault().Run(g, context);
    }

    /// <summary>
    /// The four patterns, each over its own input [n, <paramref name="length"/>] (shared subexpressions would be row values
    /// computed once for several kernels), with weight and bias constants.
    /// </summary>
    internal static Graph AllPatterns(Dim rows, int length, DType dt = DType.F32)
    {
        var xs = Enumerable.Range(0, 4).Select(i => Input($"x{i}", dt, new Shape(rows, length))).ToArray();
        var rng = new Random(length);
        var w = Weight(rng, "w", dt, length);
        var b = Weight(rng, "b", dt, length);
        return new Graph(
            xs,
            [Patterns.RmsNorm(xs[0], w), Patterns.Softmax(xs[1]), Patterns.LayerNorm(xs[2], w, b), Patterns.LogSoftmax(xs[3])],
            ["rms_norm", "softmax", "layer_norm", "log_softmax"]);
    }

    /// <summary>Random inputs of <see cref="AllPatterns"/>.</summary>
    internal static HostTensor[] AllPatternInputs(Random rng, int rows, int length, DType dt = DType.F32) =>
        [.. Enumerable.Range(0, 4).Select(_ => CpuHarness.Random(rng, dt, [rows, length], -4, 4))];

    private static Graph Case(string pattern, DType dt, int[] shape, string layout)
    {
        int rank = shape.Length, length = shape[^1];
        Node x;
        Node input;
        switch (layout)
        {
            case "transposed":
            {
                // The rows are columns of the stored tensor: read with a stride along the reduced axis.
                int[] stored = [.. shape[..^2], shape[^1], shape[^2]];
                input = Input("x", dt, Shape.Of(stored));
                int[] perm = [.. Enumerable.Range(0, rank - 2), rank - 1, rank - 2];
                x = Permute(input, perm);
                break;
            }

            case "strided":
            {
                // Every other element of a stored row: a stride of 2 along the reduced axis.
                input = Input("x", dt, Shape.Of([.. shape[..^1], 2 * length]));
                x = Slice(input, rank - 1, 1, 2 * length, step: 2);
                break;
            }

            case "sliced":
            {
                // The rows start at an offset of a wider stored row.
                input = Input("x", dt, Shape.Of([.. shape[..^1], length + 5]));
                x = Slice(input, rank - 1, 3, 3 + length);
                break;
            }

            default:
                input = Input("x", dt, Shape.Of(shape));
                x = input;
                break;
        }

        var rng = new Random(length);
        var w = Weight(rng, "w", dt, length);
        var b = Weight(rng, "b", dt, length);
        var y = pattern switch
        {
            "rms_norm" => Patterns.RmsNorm(x, w),
            "softmax" => Patterns.Softmax(x),
            "layer_norm" => Patterns.LayerNorm(x, w, b),
            "log_softmax" => Patterns.LogSoftmax(x),
            _ => throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "unknown pattern"),
        };
        return new Graph([input], [y]);
    }

    private static Node Weight(Random rng, string name, DType dt, int length) => Constant(CpuHarness.Random(rng, dt, [length], -1, 1), name);

    private static HostTensor Data(Graph g, int seed) =>
        CpuHarness.Random(new Random(seed), g.Inputs[0].DType, [.. g.Inputs[0].Shape.Select(d => (int)d.TryGetConstant()!.Value)], -3, 3);

    private static int GeneratedSteps(Plan plan) => plan.Definition.Steps.Count(s => s.Kernel.StartsWith("gen:", StringComparison.Ordinal));

    public static TheoryData<string, DType, int[], string, int> Cases()
    {
        var data = new TheoryData<string, DType, int[], string, int>();
        string[] patterns = ["rms_norm", "softmax", "layer_norm", "log_softmax"];
        int[][] shapes = [[4, 1], [3, 7], [5, 33], [2, 3, 768], [3, 1001]];
        int bits = 0;
        foreach (string p in patterns)
        {
            foreach (int[] s in shapes)
            {
                data.Add(p, DType.F32, s, "dense", bits);
                bits = bits switch { 0 => 128, 128 => 256, 256 => 512, _ => 0 };
            }

            // (The layout pass writes x * x of a permuted x as a permuted product: a kernel of its own before the row's.)
            if (p != "rms_norm") data.Add(p, DType.F32, [6, 45], "transposed", 256);
            data.Add(p, DType.F32, [5, 37], "strided", 0);
            data.Add(p, DType.F32, [2, 4, 19], "sliced", 512);
            data.Add(p, DType.BF16, [3, 130], "dense", 0);
            data.Add(p, DType.F16, [2, 67], "strided", 128);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_norm_written_from_primitives_is_one_kernel_and_matches_the_reference(string pattern, DType dt, int[] shape, string layout, int vectorBits)
    {
        var g = Case(pattern, dt, shape, layout);
        var plan = CompilePrimitives(g, new CpuBackend(vectorBits), threads: shape[0] % 3);
        if (shape[^1] > 1)
        {
            // (A row of one element broadcasts nothing: no reduce_broadcast group forms there.)
            Assert.Single(plan.Definition.Steps);
            Assert.Equal(1, GeneratedSteps(plan));
            Assert.Contains("bred r", plan.KernelDump, StringComparison.Ordinal);
        }

        var (atol, rtol) = dt switch { DType.F16 => (1e-2, 1e-2), DType.BF16 => (5e-2, 3e-2), _ => (2e-5, 2e-5) };
        var inputs = new[] { Data(g, shape.Sum()) };
        CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), atol, rtol, plan.Describe);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(128, 2)]
    [InlineData(256, 1)]
    [InlineData(512, 3)]
    public void Every_pattern_over_symbolic_rows_is_one_kernel_each(int vectorBits, int threads)
    {
        var g = AllPatterns(Dim.Sym("n"), 203);
        var plan = CompilePrimitives(g, new CpuBackend(vectorBits), threads);
        Assert.Equal(4, plan.Definition.Steps.Count);
        Assert.All(plan.Definition.Steps, s => Assert.Equal("fused reduce_broadcast", s.Label));
        foreach (int n in new[] { 1, 2, 9 })
        {
            var inputs = AllPatternInputs(new Random(n), n, 203);
            CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 2e-5, 2e-5, plan.Describe);
        }
    }

    [Fact]
    public void Passes_follow_the_accumulators_dependencies()
    {
        // rms: one reduction pass; softmax, log-softmax and layer norm: two (the second reads the first); a variance
        // as E[x²] − E[x]²: one pass with two accumulators.
        var xs = Enumerable.Range(0, 5).Select(i => Input($"x{i}", DType.F32, Shape.Of(4, 50))).ToArray();
        var x = xs[4];
        var mean = Reduce(Op.Mean, x, [1], keepDim: true);
        var variance = Binary(Op.Sub, Reduce(Op.Mean, Binary(Op.Mul, x, x), [1], keepDim: true), Binary(Op.Mul, mean, mean));
        var oneSweep = Binary(Op.Mul, Binary(Op.Sub, x, mean), Unary(Op.Rsqrt, Binary(Op.Add, variance, 1e-5)));
        var w = Weight(new Random(1), "w", DType.F32, 50);
        var g = new Graph(xs, [Patterns.RmsNorm(xs[0], w), Patterns.Softmax(xs[1]), Patterns.LogSoftmax(xs[2]), Patterns.LayerNorm(xs[3], w, w), oneSweep]);
        var kg = Scheduler.Schedule(OptimizePrimitives(g, CpuBackend.Instance.Capabilities), generateReductions: true);
        var specs = kg.Calls.Cast<BroadcastReductionCall>().Select(c => c.Kernel).ToList();
        Assert.Equal([1, 2, 2, 2, 1], specs.Select(s => s.ReductionPasses));
        Assert.Equal(2, specs[^1].Accumulators.Count);

        // Softmax's exp(x - max) is needed by its sum and by its result: kept in the output row between the passes.
        Assert.Equal(Op.Exp, specs[1].Body[specs[1].Stash].Op);
        Assert.Equal(-1, specs[0].Stash);
        var rng = new Random(4);
        var inputs = Enumerable.Range(0, 5).Select(_ => CpuHarness.Random(rng, DType.F32, [4, 50])).ToArray();
        var plan = CompilePrimitives(g, CpuBackend.Instance);
        CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 2e-5, 2e-5, plan.Describe);
    }

    [Fact]
    public void A_backend_without_the_kind_gets_a_reduction_and_an_elementwise_kernel()
    {
        var g = AllPatterns(Dim.Sym("n"), 40);
        var caps = new CpuBackend(fuseBroadcastReductions: false).Capabilities;
        Assert.False(caps.Fuses(FusedKinds.ReduceBroadcast));
        Assert.DoesNotContain(Fusion.FindGroups(OptimizePrimitives(g, caps), caps), f => f.Kind == FusedKinds.ReduceBroadcast);
        var plan = CompilePrimitives(g, new CpuBackend(fuseBroadcastReductions: false));
        Assert.DoesNotContain("bred r", plan.KernelDump, StringComparison.Ordinal);
        Assert.True(plan.Definition.Steps.Count > 4);
        var inputs = AllPatternInputs(new Random(7), 3, 40);
        CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 2e-5, 2e-5, plan.Describe);
    }

    [Fact]
    public void A_row_value_used_outside_the_row_is_still_computed_once()
    {
        // The max is an output too: the group cannot take it, so the softmax reads it as a row input.
        var x = Input("x", DType.F32, Shape.Of(5, 31));
        var m = Reduce(Op.Max, x, [1], keepDim: true);
        var e = Unary(Op.Exp, Binary(Op.Sub, x, m));
        var g = new Graph([x], [Binary(Op.Div, e, Reduce(Op.Sum, e, [1], keepDim: true)), m]);
        var plan = CompilePrimitives(g, CpuBackend.Instance);
        var inputs = new[] { CpuHarness.Random(new Random(5), DType.F32, [5, 31]) };
        CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 2e-5, 2e-5, plan.Describe);
    }

    [Fact]
    public void A_regenerated_plan_matches_the_embedded_kernels()
    {
        var plan = CompilePrimitives(AllPatterns(Dim.Sym("n"), 77), CpuBackend.Instance);
        string dir = Directory.CreateTempSubdirectory("candle-bred-").FullName;
        try
        {
            string path = Path.Combine(dir, "norms.plan");
            plan.Save(path);
            using var regenerated = Plan.Load(path, new PlanLoadOptions { KernelGenerator = CpuKernelGenerator.Instance });
            var inputs = AllPatternInputs(new Random(3), 3, 77);
            var embedded = plan.Run(inputs);
            var got = regenerated.Run(inputs);
            for (int o = 0; o < got.Length; o++) Assert.True(embedded[o].Data.Span.SequenceEqual(got[o].Data.Span), $"output {o} differs");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Every_key_reads_back_as_the_spec_it_describes()
    {
        var kg = Scheduler.Schedule(OptimizePrimitives(AllPatterns(Dim.Sym("n"), 64, DType.BF16), CpuBackend.Instance.Capabilities), generateReductions: true);
        var specs = kg.Calls.OfType<BroadcastReductionCall>().Select(c => c.Kernel).ToList();
        Assert.Equal(4, specs.Count);
        foreach (var spec in specs) Assert.Equal(spec.Key, ElementwiseSpecKey.ParseBroadcastReduction(spec.Key).Key);
    }

    [Theory]
    [InlineData("bred r2 q1 out=float32 in=[float32:contiguous] body=[in0; exp:float32(0)]", "no accumulator")]
    [InlineData("bred r2 q1 out=float32 in=[float32:contiguous] body=[in0; sum:float32(0)]", "result is an accumulator")]
    [InlineData("bred r2 q2 out=float32 in=[float32:contiguous] body=[in0; sum:float32(0); mul:float32(0,1)]", "reduced rank 2")]
    [InlineData("bred r2 q1 out=float32 in=[float32:contiguous] body=[in0; sum:float32(2); mul:float32(0,1)]", "not an earlier op")]
    [InlineData("bred r1 q1 out=float32 in=[float32:contiguous] body=[in0; sum:float32(0); mul:float32(0,1)]", "rank 1")]
    public void A_hostile_key_is_refused(string key, string expected)
    {
        var e = Assert.Throws<FormatException>(() => ElementwiseSpecKey.ParseBroadcastReduction(key));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}

