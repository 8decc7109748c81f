using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Xunit.Abstractions;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Source;

/// <summary>
/// Generated elementwise kernels rendered as C by <see cref="CRenderer"/>, compiled by clang and run, against the
/// reference interpreter, for lengths 0..257 over one symbolic-length schedule, each call in two index ranges.
/// Tolerances (|c − ref| ≤ atol + rtol·|ref|): f32 arithmetic rtol 1e-6; libm and prelude transcendentals rtol 1e-6
/// (≈ 8 ulp) and atol 1e-6 (erf, and gelu through it, use the IL kernels' approximation, |error| ≤ 2e-7); f16/bf16
/// loads, stores, casts and exactly representable arithmetic are exact; other f16/bf16 results are within one step of
/// the format (the kernels round the f32 result, the reference the f64 one); bool and comparison results are exact.
/// Without clang the compile-and-run tests return early and say so.
/// </summary>
public class CRendererTests(ITestOutputHelper output)
{
    private static readonly Op[] Arithmetic = [Op.Neg, Op.Abs, Op.Relu, Op.Floor, Op.Ceil, Op.Round, Op.Sign, Op.Reciprocal, Op.Sqrt, Op.Add, Op.Sub, Op.Mul, Op.Div, Op.FloorDiv, Op.Remainder, Op.Maximum, Op.Minimum];

    private static readonly Dictionary<string, long>[] Lengths = [.. Enumerable.Range(0, 258).Select(n => new Dictionary<string, long> { ["n"] = n })];

    public static TheoryData<Op> UnaryOps() => [.. ElementwiseDifferentialTests.UnaryOps];

    public static TheoryData<Op> BinaryOps() => [.. ElementwiseDifferentialTests.BinaryOps];

    private bool ClangMissing()
    {
        if (Clang.Path is not null) return false;
        output.WriteLine(Clang.MissingReason);
        return true;
    }

    private static (double Atol, double Rtol) F32Tolerance(Op op) => Arithmetic.Contains(op) || op.IsComparison() ? (0, 1e-6) : (1e-6, 1e-6);

    [Fact]
    public void EveryElementwiseOpHasACTemplate()
    {
        var renderer = new CRenderer();
        var ops = Enum.GetValues<Op>().Where(o => o.IsElementwise()).ToList();
        Assert.Contains(Op.Where, ops);
        Assert.Contains(Op.Cast, ops);
        foreach (var op in ops)
        {
            string e = renderer.Expression(op, ["a", "b", "c"]);
            Assert.Contains("a", e, StringComparison.Ordinal);
        }

        // Every op the generated kernels' tests exercise is elementwise (so covered above).
        Assert.All(ElementwiseDifferentialTests.UnaryOps.Concat(ElementwiseDifferentialTests.BinaryOps), op => Assert.Contains(op, ops));
    }

    [Fact]
    public void AnOpWithoutTemplateIsNamed()
    {
        var ex = Assert.Throws<NotSupportedException>(() => new CRenderer().Expression(Op.MatMul, ["a", "b"]));
        Assert.Contains(Op.MatMul.Name(), ex.Message, StringComparison.Ordinal);
        var spec = new ElementwiseSpec([new ElementwiseInput(DType.F32, InnerAccess.Contiguous)], [new BodyOp(Op.Input, DType.F32, [], Input: 0), new BodyOp(Op.Softmax, DType.F32, [0])], DType.F32, 1);
        ex = Assert.Throws<NotSupportedException>(() => new CRenderer().Kernel("k", spec));
        Assert.Contains(Op.Softmax.Name(), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheKernelHasTheKernelFnSignature()
    {
        var spec = new ElementwiseSpec([new ElementwiseInput(DType.F16, InnerAccess.Strided)], [new BodyOp(Op.Input, DType.F16, [], Input: 0), new BodyOp(Op.Exp, DType.F16, [0])], DType.BF16, 2);
        string src = new CRenderer().Render("k0", spec);
        Assert.Contains("void k0(uint8_t** slots, const int64_t* args, int64_t start, int64_t end)", src, StringComparison.Ordinal);
        Assert.Contains("const uint16_t* in0 = (const uint16_t*)slots[args[1]];", src, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(src, @"float cd_erf\("));
    }

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryF32AllLengths(Op op)
    {
        if (ClangMissing()) return;
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n")));
        var g = new Graph([x], [Unary(op, x)]);
        var (lo, hi) = op switch
        {
            Op.Log or Op.Sqrt or Op.Rsqrt => (0.05, 20),
            Op.Exp => (-20, 20),
            Op.Reciprocal => (0.1, 5),
            Op.Softplus or Op.Mish => (-30, 30),
            Op.Tanh or Op.Erf or Op.Gelu or Op.GeluTanh or Op.Sigmoid or Op.Silu => (-6, 6),
            _ => (-4.0, 4.0),
        };
        var rng = new Random((int)op * 7);
        CheckAllLengths(g, n =>
        {
            var t = CpuHarness.Random(rng, DType.F32, [n], lo, hi);
            if (op == Op.Round) for (int i = 0; i < n; i += 3) t.SetDouble(i, (rng.Next(-8, 9) / 2.0) + (i % 2 == 0 ? 0 : 0.25));
            return [t];
        }, F32Tolerance(op));
    }

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void BinaryF32AllLengths(Op op)
    {
        if (ClangMissing()) return;
        var a = Input("a", DType.F32, new Shape(Dim.Sym("n")));
        var b = Input("b", DType.F32, new Shape(Dim.Sym("n")));
        var g = new Graph([a, b], [Binary(op, a, b)]);
        var rng = new Random((int)op * 13);
        CheckAllLengths(g, n => Operands(op, DType.F32, n, rng), F32Tolerance(op));
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void HalfPrecisionOpsRoundEachResult(DType dt)
    {
        if (ClangMissing()) return;
        var a = Input("a", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        var g = new Graph([a, b], [Unary(Op.Exp, a), Binary(Op.Mul, Unary(Op.Tanh, a), b), Unary(Op.Sigmoid, b), Binary(Op.Div, a, b)]);
        var rng = new Random(3);
        CheckAllLengths(g, n => [CpuHarness.Random(rng, dt, [n]), CpuHarness.Random(rng, dt, [n], 0.5, 3)], CpuHarness.Tolerance(dt));
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void HalfPrecisionLoadsStoresAndCastsAreExact(DType dt)
    {
        if (ClangMissing()) return;
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n")));
        var h = Input("h", dt, new Shape(Dim.Sym("n")));
        var k = Input("k", dt, new Shape(Dim.Sym("n")));

        // Casts round f32 to the format once; sums of two values of the format are exact in f32, so their one
        // rounding matches the reference's; copies through f32 are exact.
        var g = new Graph([x, h, k], [Cast(x, dt), Binary(Op.Add, h, k), Cast(h, DType.F32), Unary(Op.Neg, h)]);
        var rng = new Random(11);
        float[] specials = [65504f, 65519.99f, 65520f, 1e6f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-10f, 3.0e38f, 1.00048828125f, 1.001953125f, 1.0029296875f];
        CheckAllLengths(g, n =>
        {
            var xs = HostTensor.Zeros(DType.F32, n);
            for (int i = 0; i < n; i++)
            {
                double v = i < specials.Length * 2 ? specials[i % specials.Length] * (i >= specials.Length ? -1 : 1) : (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 20));
                xs.SetDouble(i, v);
            }

            return [xs, CpuHarness.Random(rng, dt, [n], -100, 100), CpuHarness.Random(rng, dt, [n], -100, 100)];
        }, (0, 0));
    }

    [Fact]
    public void FusedGeluOfAffineTimesSigmoidWithBroadcastRows()
    {
        if (ClangMissing()) return;
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(3, n));
        var w = Input("w", DType.F32, new Shape(n));
        var b = Input("b", DType.F32, new Shape(3, 1));
        var y = Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), b)), Unary(Op.Sigmoid, x));
        var g = new Graph([x, w, b], [y]);
        var rng = new Random(17);
        CheckAllLengths(g, len => [CpuHarness.Random(rng, DType.F32, [3, len]), CpuHarness.Random(rng, DType.F32, [len]), CpuHarness.Random(rng, DType.F32, [3, 1])], (2e-6, 2e-6), program =>
        {
            var kernel = Assert.Single(program.Kernels);
            Assert.Contains(kernel.Inputs, i => i.Access == InnerAccess.Broadcast);
            Assert.True(kernel.Body.Count(o => o.Op is not (Op.Input or Op.Full)) >= 4, kernel.Key);
        });
    }

    [Fact]
    public void TransposedInputIsReadStrided()
    {
        if (ClangMissing()) return;
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(n, 7));
        var y = Input("y", DType.BF16, new Shape(7, n));
        var g = new Graph([x, y], [Binary(Op.Sub, Transpose(x, 0, 1), Cast(y, DType.F32))]);
        var rng = new Random(19);
        CheckAllLengths(g, len => [CpuHarness.Random(rng, DType.F32, [len, 7]), CpuHarness.Random(rng, DType.BF16, [7, len])], (0, 1e-6),
            program => Assert.Contains(program.Kernels.SelectMany(k => k.Inputs), i => i.Access == InnerAccess.Strided));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void BoolWhereComparisonsAndLogicalOps(DType dt)
    {
        if (ClangMissing()) return;
        var c = Input("c", DType.Bool, new Shape(Dim.Sym("n")));
        var d = Input("d", DType.Bool, new Shape(Dim.Sym("n")));
        var a = Input("a", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        var g = new Graph([c, d, a, b],
        [
            Where(c, a, b), Where(Binary(Op.Gt, a, b), a, Unary(Op.Neg, b)), Binary(Op.LogicalAnd, c, d), Binary(Op.LogicalOr, c, d),
            Unary(Op.LogicalNot, c), Binary(Op.Le, a, b), Binary(Op.Ne, a, b), Binary(Op.Add, c, d), Binary(Op.Mul, c, d), Cast(a, DType.Bool),
        ]);
        var rng = new Random(23);
        CheckAllLengths(g, n =>
        {
            var xy = Operands(Op.Eq, dt, n, rng);
            return [CpuHarness.Random(rng, DType.Bool, [n]), CpuHarness.Random(rng, DType.Bool, [n]), xy[0], xy[1]];
        }, (0, 0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void BroadcastReductionsFromPrimitivesMatchTheReference(int lanes)
    {
        if (ClangMissing()) return;

        // rms norm, softmax, layer norm and log-softmax over rows of 45 (a float32 input) and of 70 (bfloat16, read
        // every other element of a wider row), one C function each, run over 1..9 rows in two ranges.
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n"), 45));
        var y = Input("y", DType.F32, new Shape(Dim.Sym("n"), 45));
        var wide = Input("h", DType.BF16, new Shape(Dim.Sym("n"), 140));
        var h = Slice(wide, 1, 1, 140, step: 2);
        var w = Constant(CpuHarness.Random(new Random(2), DType.F32, [45], -1, 1), "w");
        var g = new Graph(
            [x, y, wide],
            [
                BroadcastReductionTests.Patterns.RmsNorm(x, w),
                BroadcastReductionTests.Patterns.Softmax(y),
                BroadcastReductionTests.Patterns.LayerNorm(Binary(Op.Mul, x, 2.0), w, w),
                BroadcastReductionTests.Patterns.LogSoftmax(h),
            ]);
        var caps = Candle.Compiler.Backends.Cpu.CpuBackend.Instance.Capabilities;
        var kg = Scheduler.Schedule(BroadcastReductionTests.OptimizePrimitives(g, caps), generateReductions: true);
        Assert.Equal(4, kg.Calls.Count(c => c is BroadcastReductionCall));
        using var program = CKernelProgram.Build(kg, lanes);
        var rng = new Random(lanes);
        foreach (int n in new[] { 1, 2, 9 })
        {
            HostTensor[] ins = [CpuHarness.Random(rng, DType.F32, [n, 45], -4, 4), CpuHarness.Random(rng, DType.F32, [n, 45], -4, 4), CpuHarness.Random(rng, DType.BF16, [n, 140], -4, 4)];
            var expected = ReferenceInterpreter.Run(g, ins);
            var actual = program.Run(ins, new Dictionary<string, long> { ["n"] = n });
            CpuHarness.AssertClose(expected[..3], actual[..3], 2e-5, 2e-5, () => program.Source);
            CpuHarness.AssertClose(expected[3..], actual[3..], 5e-2, 3e-2, () => program.Source);
        }
    }

    private static void CheckAllLengths(Graph g, Func<int, HostTensor[]> inputs, (double Atol, double Rtol) tol, Action<CKernelProgram>? inspect = null)
    {
        using var program = CKernelProgram.Build(g);
        inspect?.Invoke(program);
        foreach (var bindings in Lengths)
        {
            var ins = inputs((int)bindings["n"]);
            var expected = ReferenceInterpreter.Run(g, ins);
            CpuHarness.AssertClose(expected, program.Run(ins, bindings), tol.Atol, tol.Rtol, () => $"n = {bindings["n"]}\n{program.Source}");
        }
    }

    private static HostTensor[] Operands(Op op, DType dt, int n, Random rng)
    {
        var a = HostTensor.Zeros(dt, n);
        var b = HostTensor.Zeros(dt, n);
        double[] divisors = [0.5, 1, 2, 4, -0.5, -1, -2, -4, 3, -3, 0.75];
        for (int i = 0; i < n; i++)
        {
            switch (op)
            {
                case Op.Pow:
                    a.SetDouble(i, 0.1 + (rng.NextDouble() * 2.9));
                    b.SetDouble(i, (rng.NextDouble() * 4) - 2);
                    break;
                case Op.FloorDiv or Op.Remainder or Op.Div:
                    a.SetDouble(i, Math.Round((rng.NextDouble() * 16) - 8, 2));
                    b.SetDouble(i, divisors[rng.Next(divisors.Length)]);
                    break;
                case var c when c.IsComparison() || c is Op.Maximum or Op.Minimum:
                    a.SetDouble(i, i % 17 == 5 ? double.NaN : rng.Next(-2, 3));
                    b.SetDouble(i, i % 19 == 7 ? double.NaN : rng.Next(-2, 3));
                    break;
                default:
                    a.SetDouble(i, (rng.NextDouble() * 6) - 3);
                    b.SetDouble(i, (rng.NextDouble() * 6) - 3);
                    break;
            }
        }

        return [a, b];
    }
}
