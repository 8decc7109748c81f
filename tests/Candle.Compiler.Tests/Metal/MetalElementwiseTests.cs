using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Backends.Source;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Xunit.Abstractions;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Metal;

/// <summary>
/// Generated elementwise kernels rendered as MSL by <see cref="MetalRenderer"/>, compiled with clang++ against the
/// shim and run with Metal's execution model, against the reference interpreter. All ops of a kind are outputs of one
/// graph (one compile). Tolerances as the C renderer's: f32 arithmetic rtol 1e-6, transcendentals atol and rtol 1e-6,
/// f16/bf16 one step of the format, bool exact.
/// </summary>
public class MetalElementwiseTests(ITestOutputHelper output)
{
    private static readonly int[] Lengths = [0, 1, 31, 257, 1000];

    [Fact]
    public void EveryElementwiseOpHasAnMslTemplate()
    {
        var renderer = new MetalRenderer();
        foreach (var op in Enum.GetValues<Op>().Where(o => o.IsElementwise()))
        {
            Assert.Contains("a", renderer.Expression(op, ["a", "b", "c"]), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheKernelIsAnMslKernelWithBuffersAndTheGridPosition()
    {
        var spec = new ElementwiseSpec([new ElementwiseInput(DType.F16, InnerAccess.Strided)], [new BodyOp(Op.Input, DType.F16, [], Input: 0), new BodyOp(Op.Exp, DType.F16, [0])], DType.BF16, 2);
        string src = new MetalRenderer().Render("k0", spec);
        Assert.Contains("kernel void k0(device uchar* b0 [[buffer(0)]], device const uchar* b1 [[buffer(1)]], constant long* args [[buffer(2)]], uint gid [[thread_position_in_grid]])", src, StringComparison.Ordinal);
        Assert.Contains("device const half* in0 = (device const half*)b1;", src, StringComparison.Ordinal);
        Assert.Contains("out[i] = bfloat(", src, StringComparison.Ordinal);
        Assert.Contains("as_type<uint>(", src, StringComparison.Ordinal);
        Assert.DoesNotContain("expf", src, StringComparison.Ordinal);
        var sig = Assert.Single(MslKernelSignature.Parse(src));
        Assert.Equal(3, sig.BufferCount);
        if (MetalHarness.Missing(output)) return;
        MslShim.CheckSyntax(src);
    }

    [Fact]
    public void UnaryOpsF32()
    {
        if (MetalHarness.Missing(output)) return;
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n")));
        var p = Input("p", DType.F32, new Shape(Dim.Sym("n")));
        Op[] positive = [Op.Log, Op.Sqrt, Op.Rsqrt, Op.Reciprocal];
        var ops = ElementwiseDifferentialTests.UnaryOps;
        var g = new Graph([x, p], [.. ops.Select(op => Unary(op, positive.Contains(op) ? p : x))]);
        var rng = new Random(5);
        foreach (int n in Lengths)
        {
            var xs = CpuHarness.Random(rng, DType.F32, [n], -6, 6);
            for (int i = 0; i < n; i += 3) xs.SetDouble(i, (rng.Next(-8, 9) / 2.0) + (i % 2 == 0 ? 0 : 0.25));
            Check(g, [xs, CpuHarness.Random(rng, DType.F32, [n], 0.1, 20)], 1e-6, 1e-6);
        }
    }

    [Fact]
    public void BinaryOpsF32()
    {
        if (MetalHarness.Missing(output)) return;
        var a = Input("a", DType.F32, new Shape(Dim.Sym("n")));
        var b = Input("b", DType.F32, new Shape(Dim.Sym("n")));
        var pa = Input("pa", DType.F32, new Shape(Dim.Sym("n")));
        var ops = ElementwiseDifferentialTests.BinaryOps;
        var g = new Graph([a, b, pa], [.. ops.Select(op => Binary(op, op == Op.Pow ? pa : a, b))]);
        var rng = new Random(7);
        double[] divisors = [0.5, 1, 2, 4, -0.5, -1, -2, -4, 3, -3, 0.75];
        foreach (int n in Lengths)
        {
            var xa = HostTensor.Zeros(DType.F32, n);
            var xb = HostTensor.Zeros(DType.F32, n);
            for (int i = 0; i < n; i++)
            {
                xa.SetDouble(i, i % 17 == 5 ? double.NaN : Math.Round((rng.NextDouble() * 16) - 8, 2));
                xb.SetDouble(i, i % 4 == 0 ? rng.Next(-2, 3) : divisors[rng.Next(divisors.Length)]);
            }

            Check(g, [xa, xb, CpuHarness.Random(rng, DType.F32, [n], 0.1, 3)], 1e-6, 1e-6);
        }
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void HalfStorageWithFloatMath(DType dt)
    {
        if (MetalHarness.Missing(output)) return;
        var a = Input("a", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        var x = Input("x", DType.F32, new Shape(Dim.Sym("n")));
        var g = new Graph([a, b, x], [Unary(Op.Exp, a), Binary(Op.Mul, Unary(Op.Tanh, a), b), Binary(Op.Div, a, b), Cast(x, dt), Binary(Op.Add, a, b), Cast(a, DType.F32)]);
        var rng = new Random(3);
        var (atol, rtol) = CpuHarness.Tolerance(dt);
        foreach (int n in Lengths) Check(g, [CpuHarness.Random(rng, dt, [n]), CpuHarness.Random(rng, dt, [n], 0.5, 3), CpuHarness.Random(rng, DType.F32, [n], -70000, 70000)], atol, rtol);
    }

    [Fact]
    public void FusedChainWithBroadcastAndTransposedInputsAndBools()
    {
        if (MetalHarness.Missing(output)) return;
        var n = Dim.Sym("n");
        var x = Input("x", DType.F32, new Shape(3, n));
        var w = Input("w", DType.F32, new Shape(n));
        var bias = Input("b", DType.F32, new Shape(3, 1));
        var t = Input("t", DType.BF16, new Shape(n, 3));
        var c = Input("c", DType.Bool, new Shape(3, n));
        var y = Binary(Op.Mul, Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, x, w), bias)), Unary(Op.Sigmoid, x));
        var z = Where(c, Binary(Op.Sub, x, Cast(Transpose(t, 0, 1), DType.F32)), Unary(Op.Neg, x));
        var g = new Graph([x, w, bias, t, c], [y, z, Binary(Op.LogicalAnd, c, Binary(Op.Gt, x, w))]);
        var rng = new Random(17);
        foreach (int len in Lengths)
        {
            Check(g, [CpuHarness.Random(rng, DType.F32, [3, len]), CpuHarness.Random(rng, DType.F32, [len]), CpuHarness.Random(rng, DType.F32, [3, 1]), CpuHarness.Random(rng, DType.BF16, [len, 3]), CpuHarness.Random(rng, DType.Bool, [3, len])], 2e-6, 2e-6);
        }
    }

    private static void Check(Graph g, HostTensor[] inputs, double atol, double rtol) => MetalHarness.Check(g, inputs, atol, rtol);
}
