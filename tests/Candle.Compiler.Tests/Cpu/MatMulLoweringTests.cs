using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Matmul lowering against the reference interpreter: products with a shared (weight) right operand flattened
/// into one 2-d GEMM, packed constant weights, epilogues fused into the GEMM (bias, activations, residual,
/// scale, odd sizes and vector tails), batched products with epilogues, non-collapsible left operands,
/// strided reshapes and plan thread counts.
/// </summary>
public class MatMulLoweringTests
{
    private static HostTensor Weight(Random rng, params int[] shape) => CpuHarness.Random(rng, DType.F32, shape, -1, 1);

    private static Plan CompileAt(Graph g, int optLevel, int threads = 0) =>
        new CpuBackend().CompilePlan(g, new CompileOptions { OptLevel = optLevel, Threads = threads });

    private static void Check(Graph g, HostTensor[] inputs, int optLevel, double tol = 1e-4, int threads = 0)
    {
        var expected = ReferenceInterpreter.Run(g, inputs);
        var plan = CompileAt(g, optLevel, threads);
        CpuHarness.AssertClose(expected, plan.Run(inputs), tol, tol, () => $"O{optLevel}\n{plan.Describe()}");
    }

    private static IEnumerable<string> Kernels(Plan plan) => plan.Definition.Steps.Select(s => s.Kernel);

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(3)]
    public void LinearOnBatchedInputIsOneGemmAtEveryLevel(int level)
    {
        var rng = new Random(level + 1);
        var s = Dim.Sym("s");
        var x = Input("x", DType.F32, new Shape(2, s, 19));
        var w = Constant(Weight(rng, 37, 19), "w");
        var g = new Graph([x], [MatMul(x, Transpose(w, 0, 1))]);
        var plan = CompileAt(g, level);
        Assert.Contains("rt:gemm", Kernels(plan));
        Assert.DoesNotContain("rt:copy", Kernels(plan));
        Assert.DoesNotContain("rt:sgemm", Kernels(plan));
        foreach (int len in new[] { 0, 1, 3, 17, 40 })
        {
            var inputs = new[] { CpuHarness.Random(rng, DType.F32, [2, len, 19]) };
            CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 1e-4, 1e-4, plan.Describe);
        }
    }

    [Fact]
    public void RandomSharedRightOperandsMatchTheReference()
    {
        Gen.Select(Gen.Int[1, 70], Gen.Int[1, 70], Gen.Int[1, 70], Gen.Int[0, int.MaxValue]).Sample((m, k, n, seed) =>
        {
            var rng = new Random(seed);
            bool transposed = rng.Next(2) == 0, batched = rng.Next(2) == 0;
            var x = Input("x", DType.F32, batched ? Shape.Of(2, m, k) : Shape.Of(m, k));
            var w = Constant(Weight(rng, transposed ? [n, k] : [k, n]), "w");
            var g = new Graph([x], [MatMul(x, transposed ? Transpose(w, 0, 1) : w)]);
            var inputs = new[] { CpuHarness.Random(rng, DType.F32, batched ? [2, m, k] : [m, k]) };
            Check(g, inputs, rng.Next(4), 1e-4 * Math.Sqrt(k));
        }, iter: 40);
    }

    [Fact]
    public void NonCollapsibleLeftOperandIsCopiedOnce()
    {
        var rng = new Random(5);
        var x = Input("x", DType.F32, Shape.Of(5, 3, 16));
        var w = Constant(Weight(rng, 16, 9), "w");
        var g = new Graph([x], [MatMul(Transpose(x, 0, 1), w)]);
        var plan = CompileAt(g, 0);
        Assert.Contains("rt:gemm", Kernels(plan));
        Check(g, [CpuHarness.Random(rng, DType.F32, [5, 3, 16])], 0);
        Check(g, [CpuHarness.Random(rng, DType.F32, [5, 3, 16])], 2);
    }

    [Theory]
    [InlineData(1, 8, 8)]
    [InlineData(3, 19, 37)]
    [InlineData(17, 64, 33)]
    [InlineData(70, 5, 129)]
    public void LinearEpiloguesFuseIntoTheGemm(int m, int k, int n)
    {
        var rng = new Random(m * 1000 + n);
        var x = Input("x", DType.F32, Shape.Of(1, m, k));
        var r = Input("r", DType.F32, Shape.Of(1, m, n));
        var w = Constant(Weight(rng, n, k), "w");
        var bias = Constant(Weight(rng, n), "b");
        var h = Linear(x, w, bias);
        var tails = new (string Name, Node Y)[]
        {
            ("bias", h),
            ("bias+gelu", Unary(Op.Gelu, h)),
            ("bias+silu+residual", Binary(Op.Add, Unary(Op.Silu, h), r)),
            ("scale+tanh", Unary(Op.Tanh, Binary(Op.Mul, MatMul(x, Transpose(w, 0, 1)), 0.125))),
            ("relu-residual-scale", Binary(Op.Mul, Binary(Op.Sub, r, Unary(Op.Relu, h)), 3.0)),
            ("gelu_tanh*residual", Binary(Op.Mul, Unary(Op.GeluTanh, h), Unary(Op.Sigmoid, r))),
        };
        foreach (var (name, y) in tails)
        {
            var g = new Graph([x, r], [y]);
            var inputs = new[] { CpuHarness.Random(rng, DType.F32, [1, m, k]), CpuHarness.Random(rng, DType.F32, [1, m, n]) };
            var expected = ReferenceInterpreter.Run(g, inputs);
            foreach (int level in new[] { 2, 3 })
            {
                var plan = CompileAt(g, level);
                Assert.True(Kernels(plan).Any(s => s.StartsWith("rt:gemm@gen:", StringComparison.Ordinal)), $"{name} O{level}: no fused epilogue\n{plan.Describe()}");
                CpuHarness.AssertClose(expected, plan.Run(inputs), 1e-4, 1e-4, () => $"{name} O{level}\n{plan.Describe()}");
            }
        }
    }

    [Fact]
    public void BatchedProductWithEpilogueRunsTheTailInPlace()
    {
        var rng = new Random(9);
        var a = Input("a", DType.F32, Shape.Of(3, 5, 7));
        var b = Input("b", DType.F32, Shape.Of(3, 7, 11));
        var c = Input("c", DType.F32, Shape.Of(5, 11));
        var g = new Graph([a, b, c], [Binary(Op.Add, Binary(Op.Mul, MatMul(a, b), 0.5), c)]);
        var inputs = new[] { CpuHarness.Random(rng, DType.F32, [3, 5, 7]), CpuHarness.Random(rng, DType.F32, [3, 7, 11]), CpuHarness.Random(rng, DType.F32, [5, 11]) };
        var plan = CompileAt(g, 2);
        Assert.Contains("rt:sgemm", Kernels(plan));
        Check(g, inputs, 2);
        Check(g, inputs, 0);
    }

    [Fact]
    public void EpilogueTailsTheGeneratorCannotTakeFallBackNodeByNode()
    {
        var rng = new Random(4);
        var x = Input("x", DType.F32, Shape.Of(4, 6));
        var w = Constant(Weight(rng, 6, 10), "w");
        var y = Cast(Binary(Op.Add, MatMul(x, w), 1.0), DType.F64);
        var g = new Graph([x], [y]);
        Check(g, [CpuHarness.Random(rng, DType.F32, [4, 6])], 2);
    }

    [Fact]
    public void PackedWeightServesEveryRowCount()
    {
        var rng = new Random(12);
        var s = Dim.Sym("s");
        var x = Input("x", DType.F32, new Shape(1, s, 48));
        var w = Constant(Weight(rng, 40, 48), "w");
        var g = new Graph([x], [Unary(Op.Silu, MatMul(x, Transpose(w, 0, 1)))]);
        var plan = CompileAt(g, 2);
        foreach (int len in new[] { 1, 2, 5, 33, 1 })
        {
            var inputs = new[] { CpuHarness.Random(rng, DType.F32, [1, len, 48]) };
            CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 1e-4, 1e-4, plan.Describe);
        }
    }

    [Theory]
    [InlineData(2, false, false)]
    [InlineData(2, true, false)]
    [InlineData(2, false, true)]
    [InlineData(3, true, true)]
    [InlineData(0, false, false)]
    public void Bf16WeightsCastToF32MatchTheReference(int level, bool castAfterTranspose, bool epilogue)
    {
        var rng = new Random(level + (castAfterTranspose ? 10 : 0) + (epilogue ? 20 : 0));
        var s = Dim.Sym("s");
        var x = Input("x", DType.F32, new Shape(s, 70));
        var w = Constant(CpuHarness.Random(rng, DType.BF16, [45, 70], -1, 1), "w");
        var b = castAfterTranspose ? Cast(Transpose(w, 0, 1), DType.F32) : Transpose(Cast(w, DType.F32), 0, 1);
        var y = MatMul(x, b);
        var g = new Graph([x], [epilogue ? Unary(Op.Silu, y) : y]);
        var plan = CompileAt(g, level);
        var weights = plan.Definition.Buffers.Where(u => u.Kind == BufferKind.Weight).Select(u => plan.Weights[u.Index]).ToList();
        if (level >= 2)
        {
            // The GEMM reads the bfloat16 weight itself: no float32 copy, neither in the plan nor per call.
            Assert.All(weights, t => Assert.Equal(DType.BF16, t.DType));
            Assert.DoesNotContain(plan.Definition.Steps, st => st.Label == "cast weight" || st.Label == "cast");
        }

        foreach (int len in new[] { 1, 0, 3, 17, 1 })
        {
            var inputs = new[] { CpuHarness.Random(rng, DType.F32, [len, 70]) };
            CpuHarness.AssertClose(ReferenceInterpreter.Run(g, inputs), plan.Run(inputs), 1e-4, 1e-4, plan.Describe);
        }
    }

    [Fact]
    public void Bf16WeightWithOtherReadersIsCastForThem()
    {
        var rng = new Random(31);
        var x = Input("x", DType.F32, Shape.Of(4, 24));
        var w = Constant(CpuHarness.Random(rng, DType.BF16, [24, 24], -1, 1), "w");
        var wf = Cast(w, DType.F32);
        var g = new Graph([x], [MatMul(x, Transpose(wf, 0, 1)), Binary(Op.Mul, wf, Full(2.0, DType.F32, Shape.Of(24, 24))), wf]);
        var inputs = new[] { CpuHarness.Random(rng, DType.F32, [4, 24]) };
        Check(g, inputs, 2);
    }

    [Fact]
    public void ReshapesOfStridedViewsMatchTheReference()
    {
        var rng = new Random(21);
        var x = Input("x", DType.F32, Shape.Of(4, 6, 5));
        var t = Permute(x, 1, 0, 2);
        var outputs = new[]
        {
            Reshape(t, 2, 3, 4, 5),
            Reshape(t, 6, 20),
            Reshape(t, 6, 4, 5, 1),
            Reshape(t, 1, 6, 1, 4, 5),
            Reshape(Transpose(x, 1, 2), 4, 30),
            Reshape(Slice(x, 1, 1, 5), 4, 2, 2, 5),
        };
        var g = new Graph([x], outputs);
        var plan = CompileAt(g, 0);
        // Only [6, 20] and [4, 30] need copies; the other four outputs are views copied into their output buffers.
        Assert.Equal(6, Kernels(plan).Count(k => k == "rt:copy"));
        Check(g, [CpuHarness.Random(rng, DType.F32, [4, 6, 5])], 0, 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PlansRunOnTheirOwnThreadCount(int threads)
    {
        var rng = new Random(threads);
        var x = Input("x", DType.F32, Shape.Of(33, 64));
        var w = Constant(Weight(rng, 64, 96), "w");
        var y = Unary(Op.Gelu, MatMul(x, w));
        var g = new Graph([x], [Reduce(Op.Sum, y, [1]), Softmax(y, 1)]);
        Check(g, [CpuHarness.Random(rng, DType.F32, [33, 64])], 2, 1e-4, threads);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void SmallProductsOverBatchDimsThatDoNotCollapseMatchTheReference(int threads)
    {
        // Attention's backward shape: [batch, heads] products over views whose batch strides do not collapse into
        // one batch, run as one parallel loop over all products.
        var rng = new Random(threads);
        var q = Input("q", DType.F32, Shape.Of(4, 3, 5, 6));
        var k = Input("k", DType.F32, Shape.Of(4, 3, 7, 6));
        var y = MatMul(Transpose(q, 0, 1), Transpose(Transpose(k, 2, 3), 0, 1));
        var g = new Graph([q, k], [y]);
        Check(g, [CpuHarness.Random(rng, DType.F32, [4, 3, 5, 6]), CpuHarness.Random(rng, DType.F32, [4, 3, 7, 6])], 0, 1e-4, threads);
        Check(g, [CpuHarness.Random(rng, DType.F32, [4, 3, 5, 6]), CpuHarness.Random(rng, DType.F32, [4, 3, 7, 6])], 2, 1e-4, threads);
    }
}
