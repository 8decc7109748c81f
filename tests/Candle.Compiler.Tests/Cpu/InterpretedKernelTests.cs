using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Plans compiled without generated code (<c>CpuBackend(generateKernels: false)</c>): every elementwise kernel and
/// matmul epilogue runs in the runtime's interpreter, the plan holds no kernel assembly, and the results match the
/// reference interpreter with the tolerances of the generated kernels.
/// </summary>
public sealed class InterpretedKernelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-interp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Plan Compile(Graph g, int optLevel) =>
        new CpuBackend(generateKernels: false).CompilePlan(g, new CompileOptions { OptLevel = optLevel });

    private static void AssertNoGeneratedCode(Plan plan)
    {
        Assert.Null(plan.Payload);
        Assert.Null(plan.KernelAssembly);
        Assert.DoesNotContain(plan.Definition.Steps, s => s.Kernel.Contains("gen:", StringComparison.Ordinal));
    }

    public static TheoryData<Op, DType> OpCases()
    {
        var d = new TheoryData<Op, DType>();
        foreach (var op in ElementwiseDifferentialTests.UnaryOps.Concat(ElementwiseDifferentialTests.BinaryOps))
        {
            foreach (var dt in ElementwiseDifferentialTests.FloatTypes) d.Add(op, dt);
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(OpCases))]
    public void EveryOpMatchesTheReference(Op op, DType dt)
    {
        var n = Dim.Sym("n");
        var x = Input("x", dt, new Shape(n));
        var y = Input("y", dt, new Shape(n));
        bool unary = ElementwiseDifferentialTests.UnaryOps.Contains(op);
        var g = unary ? new Graph([x], [Unary(op, x)]) : new Graph([x, y], [Binary(op, x, y)]);
        var plan = Compile(g, 0);
        AssertNoGeneratedCode(plan);
        Assert.Contains(plan.Definition.Steps, s => s.Kernel == "rt:fused");
        var (lo, hi) = op switch
        {
            Op.Log or Op.Sqrt or Op.Rsqrt or Op.Pow => (0.05, 8.0),
            Op.Reciprocal or Op.Div or Op.FloorDiv or Op.Remainder => (0.1, 5.0),
            _ => (-4.0, 4.0),
        };
        var (atol, rtol) = CpuHarness.Tolerance(dt);
        if (dt == DType.F32 && op is Op.Exp or Op.Pow) (atol, rtol) = (1e-6, 4e-6);
        var rng = new Random(((int)op * 7) + (int)dt);
        foreach (int len in new[] { 0, 1, 37 })
        {
            HostTensor[] ins = unary
                ? [CpuHarness.Random(rng, dt, [len], lo, hi)]
                : [CpuHarness.Random(rng, dt, [len], lo, hi), CpuHarness.Random(rng, dt, [len], lo, hi)];
            CpuHarness.AssertClose(ReferenceInterpreter.Run(g, ins), plan.Run(ins), atol, rtol, () => $"{op} {dt} n={len}");
        }
    }

    [Fact]
    public void FusedGroupsWithBroadcastStridesCastsAndWhereMatchTheReference()
    {
        // A fused body over strided and broadcast inputs: comparison to bool, where, a constant, casts through f16.
        var x = Input("x", DType.F32, new Shape(3, 5));
        var b = Input("b", DType.F32, new Shape(5));
        var t = Input("t", DType.F32, new Shape(5, 3));
        var xt = Transpose(t, 0, 1);
        var sum = Binary(Op.Add, Binary(Op.Mul, x, b), xt);
        var picked = Where(Binary(Op.Gt, sum, Full(0.5, DType.F32, new Shape(3, 5))), Unary(Op.Exp, sum), Binary(Op.Mul, sum, Full(-2.0, DType.F32, new Shape(3, 5))));
        var half = Cast(Unary(Op.Tanh, picked), DType.F16);
        var g = new Graph([x, b, t], [half, Cast(Binary(Op.Add, half, Cast(b, DType.F16)), DType.F32)]);
        var plan = Compile(g, 2);
        AssertNoGeneratedCode(plan);
        var rng = new Random(5);
        HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [3, 5]), CpuHarness.Random(rng, DType.F32, [5]), CpuHarness.Random(rng, DType.F32, [5, 3])];
        CpuHarness.AssertClose(ReferenceInterpreter.Run(g, ins), plan.Run(ins), 2e-3, 2e-3);
    }

    [Fact]
    public void MlpWithMatMulEpiloguesSavesLoadsAndAttentionBlockMatchTheReference()
    {
        var g = ModelTests.Mlp();
        var plan = Compile(g, 2);
        AssertNoGeneratedCode(plan);
        Assert.Contains(plan.Definition.Steps, s => s.Kernel == "rt:gemm@rt:fused");
        string path = Path.Combine(_dir, "mlp.plan");
        plan.Save(path);
        using var loaded = Plan.Load(path);
        AssertNoGeneratedCode(loaded);
        foreach (var (bs, seq) in new[] { (1, 5), (2, 9) })
        {
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(new Random(bs * seq), DType.F32, [bs, seq, 16])], 1e-5, 1e-5, plan: loaded);
        }

        var attention = ModelTests.AttentionBlock();
        var attentionPlan = Compile(attention, 2);
        AssertNoGeneratedCode(attentionPlan);
        foreach (int seq in new[] { 7, 1 })
        {
            CpuHarness.CheckAgainstReference(attention, ModelTests.AttentionInputs(seq, seq), 1e-5, 1e-5, plan: attentionPlan);
        }
    }
}
