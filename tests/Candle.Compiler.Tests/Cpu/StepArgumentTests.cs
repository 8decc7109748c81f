using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Tests;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// The runtime kernels' argument records as the plan checks them at each symbol binding: a compiled plan of every
/// recorded kernel kind passes and computes the reference interpreter's result; random edits of its steps' arguments
/// end in a <see cref="PlanFormatException"/> (or another clear argument error) or a completed run, never an access
/// outside a buffer; hand-edited out-of-range GEMM, attention and norm steps are rejected naming the step.
/// </summary>
public sealed class StepArgumentTests
{
    private static readonly Dim N = Dim.Sym("n");

    public static TheoryData<string> Kinds => new(Cases.Keys);

    /// <summary>Per kernel kind: the graph, its inputs at n = 5 and the kernel its plan must call.</summary>
    private static readonly Dictionary<string, (Func<Graph> Graph, DType DType, int[] Shape, string Kernel)> Cases = new()
    {
        ["rms_norm"] = (() => One(x => RmsNorm(x, W(1, 8), 1e-5), DType.F32, 8), DType.F32, [8], "rt:rms_norm"),
        ["layer_norm"] = (() => One(x => LayerNorm(x, W(1, 8), W(2, 8), 1e-5), DType.F32, 8), DType.F32, [8], "rt:layer_norm"),
        ["softmax"] = (() => One(x => Softmax(x, -1), DType.F32, 8), DType.F32, [8], "rt:softmax"),
        ["reduce"] = (() => One(x => Reduce(Op.Sum, x, [1]), DType.F64, 8), DType.F64, [8], "rt:reduce"),
        ["generated_reduction"] = (() => One(x => Unary(Op.Sqrt, Reduce(Op.Mean, Binary(Op.Mul, x, W(4, 8)), [1])), DType.F32, 8), DType.F32, [8], "gen:"),
        ["generated_reduction_columns"] = (() => One(x => Reduce(Op.Max, Unary(Op.Exp, x), [0]), DType.F32, 3, 8), DType.F32, [3, 8], "gen:"),
        ["generated_reduction_two_axes"] = (() => One(x => Reduce(Op.Sum, Binary(Op.Mul, x, x), [0, 2]), DType.F32, 3, 8), DType.F32, [3, 8], "gen:"),
        ["cumsum"] = (() => One(x => CumSum(x, 1), DType.F32, 8), DType.F32, [8], "rt:cumsum"),
        ["group_norm"] = (() => One(x => GroupNorm(x, 2, W(1, 4), W(2, 4), 1e-5), DType.F32, 4, 3), DType.F32, [4, 3], "rt:group_norm"),
        ["rope"] = (() => One(x => Rope(x, Constant(2, 4), Constant(3, 4), interleaved: false), DType.F32, 8), DType.F32, [8], "rt:rope"),
        ["gemm"] = (() => One(x => Unary(Op.Tanh, Linear(x, W(1, 8, 8), W(2, 8))), DType.F32, 8), DType.F32, [8], "rt:gemm"),
        ["sgemm"] = (() => One(x => MatMul(x, Permute(x, [0, 2, 1])), DType.F32, 3, 4), DType.F32, [3, 4], "rt:sgemm"),
        ["matmul"] = (() => One(x => MatMul(x, Permute(x, [0, 2, 1])), DType.F64, 3, 4), DType.F64, [3, 4], "rt:matmul"),
        ["index_select"] = (() => One(x => IndexSelect(W(3, 10, 4), 0, x), DType.I64), DType.I64, [], "rt:index_select"),
        ["flash_attention"] = (() => Attend(DType.F32), DType.F32, [2, 3, 4], "rt:flash_attention"),
        ["attention"] = (() => Attend(DType.F64), DType.F64, [2, 3, 4], "rt:attention"),
        ["generated"] = (() => One(x => Binary(Op.Add, Binary(Op.Mul, x, W(1, 8)), Unary(Op.Tanh, Binary(Op.Sub, x, W(2, 8)))), DType.F32, 8), DType.F32, [8], "gen:"),
        ["interpreted"] = (() => One(x => Binary(Op.Add, Binary(Op.Mul, x, W(1, 8)), Unary(Op.Tanh, Binary(Op.Sub, x, W(2, 8)))), DType.F32, 8), DType.F32, [8], "rt:fused"),
        ["interpreted_gemm"] = (() => One(x => Unary(Op.Tanh, Linear(x, W(1, 8, 8), W(2, 8))), DType.F32, 8), DType.F32, [8], "rt:gemm@rt:fused"),
        ["conv"] = (() => One(x => Conv(x, W(11, 3, 2, 3), W(12, 3), [1], [1], [1], 1), DType.F32, 2, 6), DType.F32, [2, 6], "rt:conv_gemm"),
        ["conv_epilogue"] = (() => One(x => Unary(Op.Relu, Binary(Op.Add, Conv(x, W(19, 2, 2, 3), W(20, 2), [1], [1], [1], 1), x)), DType.F32, 2, 6), DType.F32, [2, 6], "rt:conv_gemm"),
        ["conv_grouped"] = (() => One(x => Conv(x, W(18, 4, 1, 2, 2), null, [2, 1], [0, 1], [1, 2], 2), DType.F32, 2, 5, 4), DType.F32, [2, 5, 4], "rt:conv_gemm"),
        ["conv_f64"] = (() => One(x => Conv(x, Cast(W(11, 3, 2, 3), DType.F64), Cast(W(12, 3), DType.F64), [1], [1], [1], 1), DType.F64, 2, 6), DType.F64, [2, 6], "rt:conv"),
        ["conv_transpose"] = (() => One(x => ConvTranspose(x, W(13, 2, 3, 3), W(14, 3), [2], [1], [1], [1], 1), DType.F32, 2, 6), DType.F32, [2, 6], "rt:conv_transpose"),
        ["conv_max_pool"] = (() => One(x => Pool(Op.MaxPool, Unary(Op.Relu, Conv(x, W(21, 3, 2, 3, 3), W(22, 3), [2, 2], [1, 1], [1, 1], 1)), [3, 3], [2, 2], [1, 1]), DType.F32, 2, 9, 8), DType.F32, [2, 9, 8], "rt:conv_gemm_max_pool"),
        ["max_pool"] = (() => One(x => Pool(Op.MaxPool, x, [3], [2], [1]), DType.F32, 2, 7), DType.F32, [2, 7], "rt:pool"),
        ["avg_pool"] = (() => One(x => Pool(Op.AvgPool, x, [3, 2], [1, 2], [1, 1], countIncludePad: false), DType.F32, 2, 5, 4), DType.F32, [2, 5, 4], "rt:pool"),
        ["gather"] = (() => One(x => Gather(W(15, 10, 6), 0, x), DType.I64, 6), DType.I64, [6], "rt:gather"),
        ["scatter_add"] = (() => One(x => ScatterAdd(W(16, 10, 6), 0, x, Cast(x, DType.F32)), DType.I64, 6), DType.I64, [6], "rt:scatter_add"),
        ["copy"] = (() => One(x => Permute(x, [0, 2, 1]), DType.F32, 3, 4), DType.F32, [3, 4], "rt:copy"),
        ["fill"] = (() => One(x => Pad(x, [1, 2], 0.5), DType.F32, 4), DType.F32, [4], "rt:fill"),
        ["arange"] = (() => One(x => Binary(Op.Add, x, Cast(Arange(N, DType.I64, 1, 2), DType.F32)), DType.F32), DType.F32, [], "rt:arange"),
        ["random_uniform"] = (() => One(x => Binary(Op.Add, x, RandomUniform(Seed(), new Shape(N, 8), stream: 3)), DType.F32, 8), DType.F32, [8], "rt:random_uniform"),
        ["check_range"] = (() => One(x => Binary(Op.Add, x, Narrow(W(17, 10, 4), 0, 0, N)), DType.F32, 4), DType.F32, [4], "rt:check_range"),
        ["elementwise"] = (() => One(x => Binary(Op.Mul, Binary(Op.Add, x, x), x), DType.I64, 4), DType.I64, [4], "rt:elementwise"),
    };

    /// <summary>
    /// The kinds whose kernels compute what the reference interpreter computes, bit for bit (not the
    /// convolutions: rt:conv_gemm sums float32 in the GEMM's order, rt:conv float64 in another order than the reference).
    /// </summary>
    private static readonly HashSet<string> Exact = ["conv_transpose", "max_pool", "avg_pool", "gather", "scatter_add", "copy", "fill", "arange", "random_uniform", "check_range", "elementwise"];

    private static Graph One(Func<Node, Node> f, DType dt, params int[] rest)
    {
        var x = Input("x", dt, new Shape([N, .. rest.Select(d => Dim.Of(d))]));
        return new Graph([x], [f(x)], ["y"]);
    }

    /// <summary>Attention over x [n, 2, 3, 4] as q, k and v (batch n, two heads, three positions), causal.</summary>
    private static Graph Attend(DType dt)
    {
        var x = Input("x", dt, new Shape(N, 2, 3, 4));
        return new Graph([x], [Attention(x, Unary(Op.Tanh, x), Unary(Op.Exp, x), causal: true)], ["y"]);
    }

    private static Node W(int seed, params int[] shape) => ModelTests.Weight(new Random(seed), $"w{seed}", shape);

    private static Node Seed()
    {
        var seed = HostTensor.Zeros(DType.I64);
        seed.SetInt64(0, 1234567890123);
        return IrBuilder.Constant(seed, "seed");
    }

    private static Node Constant(int seed, int d) => ModelTests.Weight(new Random(seed), $"c{seed}", 1, d);

    private static HostTensor[] Inputs(string kind)
    {
        var c = Cases[kind];
        if (kind == "index_select") return [HostTensor.FromArray(new long[] { 3, 0, 9, 9, 4 }, 5)];
        if (kind is "gather" or "scatter_add") return [HostTensor.FromArray(Enumerable.Range(0, 30).Select(i => (long)((i * 7) % 10)).ToArray(), 5, 6)];
        return [CpuHarness.Random(new Random(5), c.DType, [5, .. c.Shape], -1, 1)];
    }

    /// <summary>The kinds named <c>interpreted*</c> compile without generated code (their elementwise work runs in <c>rt:fused</c>).</summary>
    private static Plan Compile(string kind) => kind.StartsWith("interpreted", StringComparison.Ordinal)
        ? new CpuBackend(generateKernels: false).CompilePlan(Cases[kind].Graph(), new CompileOptions())
        : CpuHarness.Compile(Cases[kind].Graph(), optLevel: kind is "conv_epilogue" or "conv_max_pool" ? 2 : 0);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_compiled_plan_of_each_kernel_kind_passes_its_checks_and_matches_the_reference(string kind)
    {
        using var plan = Compile(kind);
        Assert.Contains(plan.Definition.Steps, s => s.Kernel.StartsWith(Cases[kind].Kernel, StringComparison.Ordinal));
        var (atol, rtol) = Exact.Contains(kind) ? (0, 0) : CpuHarness.Tolerance(Cases[kind].DType, 1e-5, 1e-5);
        CpuHarness.CheckAgainstReference(Cases[kind].Graph(), Inputs(kind), atol, rtol, plan: plan);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Edited_step_arguments_are_rejected_or_run_inside_their_buffers(string kind)
    {
        using var plan = Compile(kind);
        var def = plan.Definition;
        var inputs = Inputs(kind);
        var gen = Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.Int[0, 3], Gen.OneOf<long>(-1, 0, 1, 2, 3, 7, 16, 64, 512, 1 << 20, int.MaxValue, long.MaxValue, long.MinValue));
        gen.Sample(
            (step, arg, how, value) =>
            {
                int s = step % def.Steps.Count;
                var st = def.Steps[s];
                if (st.Args.Count == 0) return;
                int i = arg % st.Args.Count;
                long old = st.Args[i].IsConstant ? st.Args[i].Value : 5;
                long v = how switch { 0 => value, 1 => old + 1, 2 => old - 1, _ => unchecked(old * 2) };
                var args = st.Args.ToArray();
                args[i] = DimExpr.Const(v);
                var steps = def.Steps.ToArray();
                steps[s] = st with { Args = args };
                Run(def with { Steps = steps }, plan, inputs);
            },
            seed: FuzzSettings.Seed,
            iter: FuzzSettings.Iterations(150),
            threads: 1);
    }

    /// <summary>Builds and runs the edited plan: a clear error (a load turns argument errors into format errors) or a run.</summary>
    private static void Run(PlanDefinition edited, Plan original, HostTensor[] inputs)
    {
        try
        {
            using var plan = new Plan(edited, original.Payload, original.Weights);
            plan.Run(inputs);
        }
        catch (Exception e) when (e is PlanFormatException or ArgumentException or NotSupportedException
            || e is InvalidOperationException { Message: var step, InnerException: var inner } && step.StartsWith("plan step ", StringComparison.Ordinal)
                && (inner is IndexOutOfRangeException { Message: var m } && (m.StartsWith("index_select: index ", StringComparison.Ordinal) || m.StartsWith("gather: index ", StringComparison.Ordinal) || m.StartsWith("scatter_add: index ", StringComparison.Ordinal))
                    || inner is ArgumentOutOfRangeException { Message: var r } && r.StartsWith("the range [", StringComparison.Ordinal)
                    || inner is NotSupportedException))
        {
            // An indexing step whose axis length was edited below an index (the kernel's own range check, naming the op
            // and the index), a range check whose bounds were edited, or a product the kernel refuses (a bfloat16 B
            // that is not packed), each reported naming the step.
        }
    }

    [Theory]
    [InlineData("rms_norm", "rt:rms_norm", 4)]
    [InlineData("gemm", "rt:gemm", -4)]
    [InlineData("flash_attention", "rt:flash_attention", -7)]
    [InlineData("attention", "rt:attention", 11)]
    [InlineData("index_select", "rt:index_select", 7)]
    public void An_out_of_range_step_is_rejected_naming_the_step(string kind, string kernel, int at)
    {
        // The row length of the norm, K of the product (fourth from last: ... K, prepack, bType, E), the key length.
        using var plan = Compile(kind);
        var def = plan.Definition;
        int s = def.Steps.ToList().FindIndex(x => x.Kernel.StartsWith(kernel, StringComparison.Ordinal));
        var st = def.Steps[s];
        var args = st.Args.ToArray();
        int i = at < 0 ? args.Length + at : at;
        Assert.True(args[i].IsConstant);
        args[i] = DimExpr.Const(args[i].Value * 4);
        var steps = def.Steps.ToArray();
        steps[s] = st with { Args = args };
        using var edited = new Plan(def with { Steps = steps }, plan.Payload, plan.Weights);
        var e = Assert.Throws<PlanFormatException>(() => edited.Run(Inputs(kind)));
        Assert.Contains($"plan step {s} ({st.Label}, kernel {st.Kernel})", e.Message, StringComparison.Ordinal);
        Assert.Contains("bytes", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("conv", "rt:conv_gemm", 9, 2, "groups 2 do not divide 2 input and 3 output channels")]
    [InlineData("conv", "rt:conv_gemm", 5, 17, "spatial rank 17 is outside [0, 16]")]
    [InlineData("conv", "rt:conv_gemm", 10, 1 << 20, "bytes")]
    [InlineData("conv", "rt:conv_gemm", 13, 0, "stride 0 is outside [1, 2147483647]")]
    [InlineData("conv", "rt:conv_gemm", 14, -1, "padding -1 is outside [0, 2147483647]")]
    [InlineData("conv", "rt:conv_gemm", 4, 3, "computes float32")]
    [InlineData("conv_epilogue", "rt:conv_gemm", 16, -3, "residual slot -3 is not a buffer")]
    [InlineData("conv_epilogue", "rt:conv_gemm", 17, 2, "relu flag 2 is not 0 or 1")]
    [InlineData("conv_f64", "rt:conv", 10, 1 << 20, "bytes")]
    [InlineData("conv_transpose", "rt:conv_transpose", 11, 5, "bytes")]
    [InlineData("conv_transpose", "rt:conv_transpose", 15, 0, "dilation 0 is outside [1, 2147483647]")]
    [InlineData("conv_max_pool", "rt:conv_gemm_max_pool", 5, 3, "spatial rank 3: rt:conv_gemm_max_pool takes 2")]
    [InlineData("conv_max_pool", "rt:conv_gemm_max_pool", 22, 2, "relu flag 2 is not 0 or 1")]
    [InlineData("conv_max_pool", "rt:conv_gemm_max_pool", 23, 0, "pool kernel size 0 is outside [1, 2147483647]")]
    [InlineData("conv_max_pool", "rt:conv_gemm_max_pool", 29, 1 << 20, "bytes")]
    [InlineData("conv_max_pool", "rt:conv_gemm_max_pool", 10, 1 << 20, "bytes")]
    [InlineData("max_pool", "rt:pool", 4, 2, "max flag 2 is not 0 or 1")]
    [InlineData("max_pool", "rt:pool", 6, 1 << 20, "bytes")]
    [InlineData("max_pool", "rt:pool", 10, long.MaxValue, "overflows")]
    [InlineData("gather", "rt:gather", 6, 2, "axis 2 is outside [0, 2)")]
    [InlineData("gather", "rt:gather", 10, 7, "index size 7 exceeds x size 6 in dimension 1")]
    [InlineData("gather", "rt:gather", 1, 3, "element size 3 is not 1, 2, 4 or 8")]
    [InlineData("scatter_add", "rt:scatter_add", 11, 7, "index size 7 exceeds x size 6 in dimension 1")]
    [InlineData("scatter_add", "rt:scatter_add", 2, 99, "index dtype 99 is not a dtype")]
    [InlineData("copy", "rt:copy", 3, 5, "arguments, 21 expected")]
    [InlineData("copy", "rt:copy", 8, 0, "the destination view spans fewer than the")]
    [InlineData("copy", "rt:copy", 7, -1, "bytes")]
    [InlineData("fill", "rt:fill", 1, 42, "dtype 42 is not a dtype")]
    [InlineData("arange", "rt:arange", 0, -3, "slot -3 is not a buffer")]
    [InlineData("random_uniform", "rt:random_uniform", 1, -2, "slot -2 is not a buffer")]
    [InlineData("check_range", "rt:check_range", 2, 11, "11 arguments")]
    [InlineData("elementwise", "rt:elementwise", 0, -9, "no elementwise op has code -9")]
    [InlineData("elementwise", "rt:elementwise", 3, 1, "takes 2 inputs, not 1")]
    [InlineData("elementwise", "rt:elementwise", 9, 1 << 20, "bytes")]
    public void A_hostile_field_is_rejected_naming_the_step_and_the_field(string kind, string kernel, int at, long value, string problem)
    {
        using var plan = Compile(kind);
        var def = plan.Definition;
        int s = def.Steps.ToList().FindIndex(x => x.Kernel == kernel);
        Assert.True(s >= 0, plan.Describe());
        var st = def.Steps[s];
        var args = st.Args.ToArray();
        if (kind == "check_range")
        {
            args = [.. args, .. Enumerable.Repeat(DimExpr.Const(0), (int)value - args.Length)];
        }
        else
        {
            args[at] = DimExpr.Const(value);
        }

        var steps = def.Steps.ToArray();
        steps[s] = st with { Args = args };
        using var edited = new Plan(def with { Steps = steps }, plan.Payload, plan.Weights);
        var e = Assert.Throws<PlanFormatException>(() => edited.Run(Inputs(kind)));
        Assert.StartsWith($"plan step {s} ({st.Label}, kernel {st.Kernel}): ", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gather", 10)]
    [InlineData("gather", -1)]
    [InlineData("scatter_add", 10)]
    [InlineData("scatter_add", long.MinValue)]
    public void An_index_out_of_range_is_rejected_at_each_call_naming_the_op_and_the_index(string kind, long bad)
    {
        using var plan = Compile(kind);
        var ok = Inputs(kind);
        var expected = plan.Run(ok);
        var ids = Inputs(kind)[0];
        ids.SetDouble(17, bad);
        var e = Assert.Throws<InvalidOperationException>(() => plan.Run([ids]));
        var inner = Assert.IsType<IndexOutOfRangeException>(e.InnerException);
        Assert.StartsWith($"{kind}: index {bad} (at position 17) is out of range for a dimension of size 10", inner.Message, StringComparison.Ordinal);
        Assert.Contains($"kernel rt:{kind}", e.Message, StringComparison.Ordinal);

        // The same binding runs again with good indices (the check is per call, not cached with the shapes).
        CpuHarness.AssertClose(expected, plan.Run(ok), 0, 0);
    }

    [Fact]
    public void Every_runtime_kernel_is_checked_through_an_argument_record()
    {
        var none = new Dictionary<string, Candle.Runtime.Kernels.Cpu.Args.GeneratedLayout>();
        foreach (string name in Candle.Runtime.Kernels.Cpu.RuntimeKernels.Names)
        {
            var step = new PlanStep("rt:" + name, [], DimExpr.Const(1), DimExpr.Const(1), "probe");
            string? problem = StepAccess.Problem(step, 0, [], [], 1, [], none);
            Assert.NotNull(problem);
            Assert.StartsWith($"plan step 0 (probe, kernel rt:{name}): ", problem, StringComparison.Ordinal);
            Assert.Contains("arguments", problem, StringComparison.Ordinal);
        }

        var unknown = StepAccess.Problem(new PlanStep("rt:unrecorded", [], DimExpr.Const(1), DimExpr.Const(1), "probe"), 0, [], [], 1, [], none);
        Assert.Equal("plan step 0 (probe, kernel rt:unrecorded): the kernel has no argument record", unknown);
    }
}
