using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using CsCheck;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Generated elementwise kernels against the reference interpreter: every op, f32/f16/bf16, every length 0..257
/// (so every vector tail of 4, 8 and 16 lanes) through one plan with a symbolic length, for 128-, 256- and 512-bit lanes.
/// Tolerances (|cpu − ref| ≤ atol + rtol·|ref|): f32 rtol 2e-6 / atol 1e-6 (transcendentals a few ulp; erf/gelu
/// absolute 1e-6 from the 2e-7 erf bound); f16 2e-3 and bf16 1.6e-2 (one rounding step of the format).
/// </summary>
public class ElementwiseDifferentialTests
{
    public static readonly Op[] UnaryOps =
    [
        Op.Neg, Op.Abs, Op.Exp, Op.Log, Op.Sqrt, Op.Rsqrt, Op.Sin, Op.Cos, Op.Tanh, Op.Sigmoid, Op.Relu, Op.Gelu, Op.GeluTanh,
        Op.Silu, Op.Erf, Op.Floor, Op.Ceil, Op.Round, Op.Sign, Op.Reciprocal, Op.Softplus, Op.Mish,
    ];

    public static readonly Op[] BinaryOps =
    [
        Op.Add, Op.Sub, Op.Mul, Op.Div, Op.FloorDiv, Op.Remainder, Op.Pow, Op.Maximum, Op.Minimum, Op.Eq, Op.Ne, Op.Lt, Op.Le, Op.Gt, Op.Ge,
    ];

    public static readonly DType[] FloatTypes = [DType.F32, DType.F16, DType.BF16];

    public static TheoryData<Op, DType> UnaryCases()
    {
        var d = new TheoryData<Op, DType>();
        foreach (var op in UnaryOps) foreach (var dt in FloatTypes) d.Add(op, dt);
        return d;
    }

    public static TheoryData<Op, DType> BinaryCases()
    {
        var d = new TheoryData<Op, DType>();
        foreach (var op in BinaryOps) foreach (var dt in FloatTypes) d.Add(op, dt);
        return d;
    }

    private static readonly int[] Widths = [128, 256, 512];

    private static (double Lo, double Hi) Domain(Op op) => op switch
    {
        Op.Log or Op.Sqrt or Op.Rsqrt => (0.05, 20),
        Op.Exp => (-20, 20),
        Op.Tanh or Op.Erf or Op.Gelu or Op.GeluTanh or Op.Sigmoid or Op.Silu => (-6, 6),
        Op.Reciprocal => (0.1, 5),
        Op.Softplus or Op.Mish => (-30, 30),
        _ => (-4, 4),
    };

    private static (double Atol, double Rtol) Tol(Op op, DType dt)
    {
        var t = CpuHarness.Tolerance(dt);
        if (dt == DType.F32 && op is Op.Exp) t = (1e-6, 4e-6);
        return t;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryAllLengths(Op op, DType dt)
    {
        var x = Input("x", dt, new Shape(Dim.Sym("n")));
        var g = new Graph([x], [Unary(op, x)]);
        var (lo, hi) = Domain(op);
        var rng = new Random(((int)op * 31) + (int)dt);
        var (atol, rtol) = Tol(op, dt);
        var plans = Widths.Select(bits => CpuHarness.Compile(g, bits)).ToArray();
        for (int n = 0; n <= 257; n++)
        {
            HostTensor[] inputs = [CpuHarness.Random(rng, dt, [n], lo, hi)];
            var expected = ReferenceInterpreter.Run(g, inputs);
            foreach (var plan in plans) CpuHarness.AssertClose(expected, plan.Run(inputs), atol, rtol);
        }
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryAllLengths(Op op, DType dt)
    {
        var a = Input("a", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        var g = new Graph([a, b], [Binary(op, a, b)]);
        var rng = new Random(((int)op * 17) + (int)dt);
        var (atol, rtol) = Tol(op, dt);
        var plans = Widths.Select(bits => CpuHarness.Compile(g, bits)).ToArray();
        for (int n = 0; n <= 257; n++)
        {
            var (x, y) = Operands(op, dt, n, rng);
            var expected = ReferenceInterpreter.Run(g, [x, y]);
            foreach (var plan in plans) CpuHarness.AssertClose(expected, plan.Run([x, y]), atol, rtol);
        }
    }

    private static (HostTensor, HostTensor) Operands(Op op, DType dt, int n, Random rng)
    {
        switch (op)
        {
            case Op.Pow:
                return (CpuHarness.Random(rng, dt, [n], 0.1, 3), CpuHarness.Random(rng, dt, [n], -2, 2));
            case Op.FloorDiv or Op.Remainder or Op.Div:
            {
                // Divisors are powers of two so quotients are exact and floor() cannot flip between implementations.
                double[] divisors = [0.5, 1, 2, 4, -0.5, -1, -2, -4];
                var b = HostTensor.Zeros(dt, n);
                for (int i = 0; i < n; i++) b.SetDouble(i, divisors[rng.Next(divisors.Length)]);
                var a = HostTensor.Zeros(dt, n);
                for (int i = 0; i < n; i++) a.SetDouble(i, Math.Round((rng.NextDouble() * 16) - 8, 2));
                return (a, b);
            }

            case var c when c.IsComparison():
            {
                // Small integers so that ties (equality) happen often.
                var a = HostTensor.Zeros(dt, n);
                var b = HostTensor.Zeros(dt, n);
                for (int i = 0; i < n; i++)
                {
                    a.SetDouble(i, rng.Next(-2, 3));
                    b.SetDouble(i, rng.Next(-2, 3));
                }

                return (a, b);
            }

            default:
                return (CpuHarness.Random(rng, dt, [n]), CpuHarness.Random(rng, dt, [n]));
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void WhereAndLogicalOpsAllLengths(DType dt)
    {
        var c = Input("c", DType.Bool, new Shape(Dim.Sym("n")));
        var d = Input("d", DType.Bool, new Shape(Dim.Sym("n")));
        var a = Input("a", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        var g = new Graph([c, d, a, b], [Where(c, a, b), Binary(Op.LogicalAnd, c, d), Binary(Op.LogicalOr, c, d), Unary(Op.LogicalNot, c), Binary(Op.Gt, a, b)]);
        var rng = new Random(5);
        foreach (int bits in Widths)
        {
            var plan = CpuHarness.Compile(g, bits);
            for (int n = 0; n <= 257; n++)
            {
                HostTensor[] ins = [CpuHarness.Random(rng, DType.Bool, [n]), CpuHarness.Random(rng, DType.Bool, [n]), CpuHarness.Random(rng, dt, [n]), CpuHarness.Random(rng, dt, [n])];
                CpuHarness.CheckAgainstReference(g, ins, 0, 0, plan: plan);
            }
        }
    }

    [Fact]
    public void CastsBetweenFloatTypesAndBool()
    {
        DType[] types = [DType.F32, DType.F16, DType.BF16, DType.Bool];
        var rng = new Random(9);
        foreach (var from in types)
        {
            var x = Input("x", from, new Shape(Dim.Sym("n")));
            var g = new Graph([x], [.. types.Where(t => t != from).Select(t => Cast(x, t))]);
            var plan = CpuHarness.Compile(g);
            foreach (int n in new[] { 0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 257 })
            {
                var input = CpuHarness.Random(rng, from, [n], -70000, 70000);
                CpuHarness.CheckAgainstReference(g, [input], 0, 0, plan: plan);
            }
        }
    }

    [Fact]
    public void SpecialValuesRoundTripThroughHalfTypes()
    {
        double[] special = [0.0, -0.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 65504, 65520, 1e-8, 6e-8, -3e-5, 1.0 / 3, 3.4e38];
        foreach (var dt in new[] { DType.F16, DType.BF16 })
        {
            var x = Input("x", DType.F32, Shape.Of(special.Length));
            var g = new Graph([x], [Cast(x, dt), Cast(Cast(x, dt), DType.F32), Unary(Op.Relu, Cast(x, dt))]);
            var input = HostTensor.FromDoubles(DType.F32, special, special.Length);
            foreach (int bits in Widths) CpuHarness.CheckAgainstReference(g, [input], 0, 0, vectorBits: bits);
        }
    }

    [Theory]
    [InlineData(DType.I64)]
    [InlineData(DType.I32)]
    [InlineData(DType.F64)]
    [InlineData(DType.U8)]
    public void NonFloat32DomainUsesTheFallbackKernel(DType dt)
    {
        var a = Input("a", dt, new Shape(Dim.Sym("n")));
        var b = Input("b", dt, new Shape(Dim.Sym("n")));
        var outs = new List<Node> { Binary(Op.Add, a, b), Binary(Op.Mul, a, b), Binary(Op.Maximum, a, b), Binary(Op.Lt, a, b), Unary(Op.Abs, a), Cast(a, DType.F32), Where(Binary(Op.Ge, a, b), a, b) };
        if (dt != DType.U8) outs.Add(Binary(Op.Sub, a, b));
        var g = new Graph([a, b], outs);
        var plan = CpuHarness.Compile(g);
        var rng = new Random(3);
        foreach (int n in new[] { 0, 1, 5, 64, 65 })
        {
            CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, dt, [n]), CpuHarness.Random(rng, dt, [n])], 1e-12, 1e-12, plan: plan);
        }
    }

    /// <summary>Random shapes (ranks 1–4, sizes 0–9) with broadcast, permuted, sliced and flipped operands.</summary>
    [Fact]
    public void BroadcastAndNonContiguousOperands()
    {
        var gen = Gen.Select(Gen.Int[1, 4], Gen.Int[0, 9].Array[4], Gen.Int[0, int.MaxValue], Gen.Int[0, 2]);
        gen.Sample((rank, dims, seed, dtIndex) =>
        {
            var rng = new Random(seed);
            var dt = FloatTypes[dtIndex];
            var shape = dims.Take(rank).ToArray();
            // a: stored permuted, then permuted back (non-contiguous view); b: broadcast along random axes.
            var perm = Enumerable.Range(0, rank).OrderBy(_ => rng.Next()).ToArray();
            var inv = new int[rank];
            for (int i = 0; i < rank; i++) inv[perm[i]] = i;
            var stored = perm.Select(p => shape[p]).ToArray();
            var aIn = Input("a", dt, Shape.Of(stored));
            var a = Permute(aIn, inv);
            var bShape = shape.Select(d => rng.Next(3) == 0 ? 1 : d).ToArray();
            var bIn = Input("b", dt, Shape.Of(bShape));
            // c: a strided slice (step 2) and flip of a larger input along the last axis.
            var cShape = shape.ToArray();
            cShape[^1] = (shape[^1] * 2) + 1;
            var cIn = Input("c", dt, Shape.Of(cShape));
            var c = Flip(Slice(cIn, rank - 1, 1, null, 2), rank - 1);
            var op = BinaryOps[rng.Next(BinaryOps.Length)];
            var y = Binary(Op.Add, Binary(op is Op.Pow or Op.FloorDiv or Op.Remainder ? Op.Mul : op, a, bIn), c);
            var g = new Graph([aIn, bIn, cIn], [y, Unary(Op.Silu, a)]);
            HostTensor[] ins = [CpuHarness.Random(rng, dt, stored), CpuHarness.Random(rng, dt, bShape), CpuHarness.Random(rng, dt, cShape)];
            var (atol, rtol) = CpuHarness.Tolerance(dt);
            CpuHarness.CheckAgainstReference(g, ins, atol * 4, rtol * 2, vectorBits: new[] { 128, 256, 512 }[seed % 3]);
        }, iter: 150);
    }

    [Fact]
    public void FusedElementwiseGroupIsOneKernel()
    {
        foreach (var dt in FloatTypes)
        {
            var bx = Input("bx", dt, new Shape(Dim.Sym("n"), 24));
            var by = Input("by", dt, new Shape(Dim.Sym("n"), 24));
            var body = new Graph([bx, by], [Unary(Op.Gelu, Binary(Op.Add, Binary(Op.Mul, bx, by), 1.0))]);
            var x = Input("x", dt, new Shape(Dim.Sym("n"), 24));
            var w = Input("w", dt, Shape.Of(24));
            var wExp = Expand(Reshape(w, 1, 24), new Shape(Dim.Sym("n"), 24));
            var y = Fused(body, "elementwise", [x, wExp]);
            var g = new Graph([x, w], [y]);
            var plan = CpuHarness.Compile(g);
            Assert.Single(plan.Definition.Steps, s => s.Kernel.StartsWith("gen:", StringComparison.Ordinal));
            var rng = new Random(4);
            var (atol, rtol) = CpuHarness.Tolerance(dt);
            foreach (int n in new[] { 0, 1, 3, 11 })
            {
                CpuHarness.CheckAgainstReference(g, [CpuHarness.Random(rng, dt, [n, 24]), CpuHarness.Random(rng, dt, [24])], atol * 2, rtol * 2, plan: plan);
            }
        }
    }
}
