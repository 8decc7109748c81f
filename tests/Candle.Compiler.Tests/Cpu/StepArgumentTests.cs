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
        ["reduce"] = (() => One(x => Reduce(Op.Sum, x, [1]), DType.F32, 8), DType.F32, [8], "rt:reduce"),
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
    };

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

    private static Node Constant(int seed, int d) => ModelTests.Weight(new Random(seed), $"c{seed}", 1, d);

    private static HostTensor[] Inputs(string kind)
    {
        var c = Cases[kind];
        if (kind == "index_select") return [HostTensor.FromArray(new long[] { 3, 0, 9, 9, 4 }, 5)];
        return [CpuHarness.Random(new Random(5), c.DType, [5, .. c.Shape], -1, 1)];
    }

    /// <summary>The kinds named <c>interpreted*</c> compile without generated code (their elementwise work runs in <c>rt:fused</c>).</summary>
    private static Plan Compile(string kind) => kind.StartsWith("interpreted", StringComparison.Ordinal)
        ? new CpuBackend(generateKernels: false).CompilePlan(Cases[kind].Graph(), new CompileOptions())
        : CpuHarness.Compile(Cases[kind].Graph());

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_compiled_plan_of_each_kernel_kind_passes_its_checks_and_matches_the_reference(string kind)
    {
        using var plan = Compile(kind);
        Assert.Contains(plan.Definition.Steps, s => s.Kernel.StartsWith(Cases[kind].Kernel, StringComparison.Ordinal));
        var (atol, rtol) = CpuHarness.Tolerance(Cases[kind].DType, 1e-5, 1e-5);
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
            || e.InnerException is IndexOutOfRangeException { Message: var m } && m.Contains("index_select", StringComparison.Ordinal)
            || e.InnerException is NotSupportedException)
        {
            // An index_select whose axis length was edited below an index (the kernel's own range check), or a product
            // the kernel refuses (a bfloat16 B that is not packed), both reported naming the step.
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
}
