using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Source;

/// <summary>
/// Generated kernels rendered as C# (<see cref="CSharpKernelSource"/>), compiled by Roslyn and run in place of the
/// plan's IL kernels: every output is bit for bit the IL plan's, over shapes whose rows are not a multiple of any
/// vector width (so the IL kernels run both their vector bodies and their scalar tails).
/// </summary>
public class CSharpRendererTests
{
    private static Plan WithCSharpKernels(Plan plan, out string source)
    {
        source = CSharpKernelSource.Render(plan);
        byte[] assembly = RoslynKernels.Compile(source);
        return new Plan(plan.Definition, new IlKernelPayload(assembly, plan.KernelDump), plan.Weights);
    }

    private static void AssertSameBits(HostTensor[] expected, HostTensor[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k].DType, actual[k].DType);
            Assert.Equal(expected[k].Shape, actual[k].Shape);
            byte[] e = expected[k].Data.ToArray(), a = actual[k].Data.ToArray();
            int first = Enumerable.Range(0, e.Length).FirstOrDefault(i => e[i] != a[i], -1);
            Assert.True(first < 0, $"output {k} ({expected[k].DType}) differs at byte {first}");
        }
    }

    private static Graph EveryOpGraph(DType dt)
    {
        var x = Input("x", dt, new Shape(3, 37));
        var y = Input("y", dt, new Shape(37));
        var outs = new List<Node>();
        foreach (var op in ElementwiseDifferentialTests.UnaryOps) outs.Add(Unary(op, x));
        foreach (var op in ElementwiseDifferentialTests.BinaryOps) outs.Add(Binary(op, x, y));
        return new Graph([x, y], outs);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void EveryOpRunsBitIdenticalToTheIlKernels(DType dt)
    {
        var g = EveryOpGraph(dt);
        using var plan = CpuHarness.Compile(g);
        using var csharp = WithCSharpKernels(plan, out string source);
        Assert.Contains("public static void ", source, StringComparison.Ordinal);
        Assert.Contains("ExpOp.Invoke<Lanes1, float>(", source, StringComparison.Ordinal);
        var rng = new Random(5 + (int)dt);
        HostTensor[] inputs = [CpuHarness.Random(rng, dt, [3, 37], -4, 4), CpuHarness.Random(rng, dt, [37], 0.25, 3)];
        AssertSameBits(plan.Run(inputs), csharp.Run(inputs));
    }

    [Fact]
    public void FusedChainsWithBroadcastStridesCastsAndWhereRunBitIdentical()
    {
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n"), 29));
        var h = Input("h", DType.F16, new Shape(29, Dim.Sym("n")));
        var b = Input("b", DType.BF16, new Shape(29));
        var scaled = Binary(Op.Add, Binary(Op.Mul, x, 0.125), Cast(b, DType.F32));
        var gelu = Unary(Op.Gelu, scaled);
        var mixed = Binary(Op.Mul, Unary(Op.Silu, Permute(Cast(h, DType.F32), 1, 0)), gelu);
        var chosen = Where(Binary(Op.Gt, x, 0.0), Unary(Op.Exp, x), Unary(Op.Softplus, x));
        var narrowed = Cast(Binary(Op.Sub, mixed, chosen), DType.BF16);
        var mask = Cast(Binary(Op.Le, mixed, 0.5), DType.Bool);
        var g = new Graph([x, h, b], [narrowed, mask, Cast(Unary(Op.Tanh, gelu), DType.F16)]);
        using var plan = CpuHarness.Compile(g, optLevel: 2);
        using var csharp = WithCSharpKernels(plan, out _);
        var rng = new Random(17);
        foreach (int n in new[] { 1, 5, 33 })
        {
            HostTensor[] inputs = [CpuHarness.Random(rng, DType.F32, [n, 29]), CpuHarness.Random(rng, DType.F16, [29, n]), CpuHarness.Random(rng, DType.BF16, [29])];
            AssertSameBits(plan.Run(inputs), csharp.Run(inputs));
        }
    }

    [Fact]
    public void MultiOutputKernelsRunBitIdentical()
    {
        // m = m0·0.9 + g·0.1 and p' = p − lr·m (lr broadcast) in one kernel writing p', m and a float16 copy of p'.
        var p = Input("p", DType.F32, new Shape(3, 37));
        var m0 = Input("m0", DType.F32, new Shape(3, 37));
        var g = Input("g", DType.F32, new Shape(3, 37));
        var lr = Input("lr", DType.F32, Shape.Scalar);
        var m = Binary(Op.Add, Binary(Op.Mul, m0, 0.9), Binary(Op.Mul, g, 0.1));
        var next = Binary(Op.Sub, p, Binary(Op.Mul, m, lr));
        var graph = new Graph([p, m0, g, lr], [next, m, Cast(next, DType.F16)]);
        using var plan = CpuHarness.Compile(graph, optLevel: 2);
        Assert.Contains("also=[", plan.KernelDump, StringComparison.Ordinal);
        using var csharp = WithCSharpKernels(plan, out _);
        var rng = new Random(23);
        HostTensor[] inputs = [.. graph.Inputs.Select(i => CpuHarness.Random(rng, DType.F32, i.Shape.ToInts()))];
        AssertSameBits(plan.Run(inputs), csharp.Run(inputs));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(128)]
    public void GeneratedReductionsRunBitIdenticalToTheIlKernels(int vectorBits)
    {
        // Rows (with the unrolled accumulators, the single vector loop and the tail), columns, two reduced axes, a
        // broadcast operand in the producer and in the consumer, f16 storage, mean, max, min and prod.
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 150));
        var h = Input("h", DType.F16, new Shape(3, n, 21));
        var w = Input("w", DType.F32, new Shape(150));
        var m = Reduce(Op.Max, x, [1], true);
        var g = new Graph(
            [x, h, w],
            [
                Unary(Op.Rsqrt, Binary(Op.Add, Reduce(Op.Mean, Binary(Op.Mul, Binary(Op.Mul, x, x), w), [1], true), 1e-6)),
                Unary(Op.Log, Reduce(Op.Sum, Unary(Op.Exp, Binary(Op.Sub, x, m)), [1])),
                Reduce(Op.Sum, Unary(Op.Tanh, x), [0]),
                Reduce(Op.Min, h, [0, 2]),
                Binary(Op.Mul, Reduce(Op.Prod, Binary(Op.Add, Binary(Op.Mul, Cast(h, DType.F32), 0.01), 1.0), [1]), 2.0),
            ]);
        using var plan = new CpuBackend(vectorBits).CompilePlan(g, new CompileOptions { OptLevel = 2 });
        Assert.Contains("red r", plan.KernelDump, StringComparison.Ordinal);
        using var csharp = WithCSharpKernels(plan, out string source);
        Assert.Contains("reduction along rows", source, StringComparison.Ordinal);
        Assert.Contains("reduction along columns", source, StringComparison.Ordinal);
        var rng = new Random(23);
        foreach (int rows in new[] { 1, 3, 70 })
        {
            HostTensor[] inputs = [CpuHarness.Random(rng, DType.F32, [rows, 150]), CpuHarness.Random(rng, DType.F16, [3, rows, 21]), CpuHarness.Random(rng, DType.F32, [150], 0.5, 1.5)];
            AssertSameBits(plan.Run(inputs), csharp.Run(inputs));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(128)]
    public void BroadcastReductionsRunBitIdenticalToTheIlKernels(int vectorBits)
    {
        // rms norm, softmax, layer norm and log-softmax from primitives, rows of 150 (unrolled block, single vectors, tail).
        var g = BroadcastReductionTests.AllPatterns(Dim.Sym("n"), 150);
        using var plan = BroadcastReductionTests.CompilePrimitives(g, new CpuBackend(vectorBits));
        Assert.Contains("bred r", plan.KernelDump, StringComparison.Ordinal);
        using var csharp = WithCSharpKernels(plan, out string source);
        Assert.Contains("broadcast back over each row", source, StringComparison.Ordinal);
        var rng = new Random(29);
        foreach (int rows in new[] { 1, 4 })
        {
            var inputs = BroadcastReductionTests.AllPatternInputs(rng, rows, 150);
            AssertSameBits(plan.Run(inputs), csharp.Run(inputs));
        }
    }

    [Fact]
    public void TheSourceListsThePlanAndNamesEachKernel()
    {
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n")));
        using var plan = CpuHarness.Compile(new Graph([x], [Unary(Op.Sigmoid, Binary(Op.Mul, x, x))]), optLevel: 2);
        string source = CSharpKernelSource.Render(plan);
        Assert.Contains("namespace Candle.Generated;", source, StringComparison.Ordinal);
        Assert.Contains("public static unsafe class Kernels", source, StringComparison.Ordinal);
        Assert.Contains("// inputs: ", source, StringComparison.Ordinal);
        foreach (var spec in plan.KernelDump.Split('\n').Where(l => l.StartsWith(".method public static void ", StringComparison.Ordinal)))
        {
            string name = spec[".method public static void ".Length..spec.IndexOf('(', StringComparison.Ordinal)];
            Assert.Contains($"public static void {name}(nint[] slots, long[] args, long start, long end)", source, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void APlanWithoutGeneratedKernelsIsAClearError()
    {
        var x = Input("x", DType.F32, new Shape(4));
        using var plan = new CpuBackend(generateKernels: false).CompilePlan(new Graph([x], [Unary(Op.Exp, x)]), new CompileOptions());
        var e = Assert.Throws<ArgumentException>(() => CSharpKernelSource.Render(plan));
        Assert.Contains("no generated kernels", e.Message, StringComparison.Ordinal);
    }
}
