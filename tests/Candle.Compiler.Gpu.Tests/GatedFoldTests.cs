using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Candle.Compiler.Scheduling;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Gated units (act(gate) · up over the two halves of a merged gate/up product) folded into that product on ILGPU's CPU
/// accelerator: graphs against the reference interpreter (f32, f16, bf16; silu, gelu and gelu's tanh form; the product
/// over normalized rows, its norm folded too, and over plain rows; 1 to 4 rows), the unit counted where it is folded and
/// not where the product is also a graph output, where the body is another expression, or where
/// <see cref="GpuLowering.FoldVariable"/> is 0; the gated kernel launched directly against a double-precision loop; and
/// the body recognised only in its exact shape.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public class GatedFoldTests
{
    public static TheoryData<DType, bool, Op, int> Cases()
    {
        var data = new TheoryData<DType, bool, Op, int>();
        int i = 0;
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (bool norm in new[] { true, false })
            {
                data.Add(dt, norm, Op.Silu, 1 + (i++ % GemvKernels.MaxRows));
            }
        }

        data.Add(DType.F16, true, Op.Gelu, 2);
        data.Add(DType.BF16, false, Op.GeluTanh, 3);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_folded_gated_unit_matches_the_reference_interpreter(DType dt, bool norm, Op act, int rows)
    {
        var (g, inputs) = Build(dt, norm, act, rows, 64, 24, alsoProduct: false, plusOne: false);
        // The norm (where there is one) and the unit.
        AssertFolds(g, inputs, dt, 64, folded: norm ? 2 : 1);
    }

    [Theory]
    [InlineData(DType.F16, true)]
    [InlineData(DType.BF16, false)]
    public void A_gate_in_the_second_half_is_folded(DType dt, bool norm)
    {
        var (g, inputs) = Build(dt, norm, Op.Silu, 2, 64, 24, alsoProduct: false, plusOne: false, upFirst: true);
        AssertFolds(g, inputs, dt, 64, folded: norm ? 2 : 1);
    }

    [Fact]
    public void A_product_that_is_also_a_graph_output_keeps_its_unit()
    {
        // The norm is still folded into the product.
        var (g, inputs) = Build(DType.F16, true, Op.Silu, 2, 64, 24, alsoProduct: true, plusOne: false);
        AssertFolds(g, inputs, DType.F16, 64, folded: 1);
    }

    [Fact]
    public void Another_expression_over_the_halves_is_not_folded()
    {
        var (g, inputs) = Build(DType.F16, false, Op.Silu, 1, 64, 24, alsoProduct: false, plusOne: true);
        AssertFolds(g, inputs, DType.F16, 64, folded: 0);
    }

    [Fact]
    public void The_switch_turns_the_fold_off()
    {
        var (g, inputs) = Build(DType.BF16, true, Op.Silu, 1, 64, 24, alsoProduct: false, plusOne: false);
        Environment.SetEnvironmentVariable(GpuLowering.FoldVariable, "0");
        try
        {
            AssertFolds(g, inputs, DType.BF16, 64, folded: 0);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.FoldVariable, null);
        }
    }

    [Fact]
    public void Only_the_exact_gated_body_is_recognised()
    {
        var a = new BodyOp(Op.Input, DType.F16, [], Input: 0);
        var b = new BodyOp(Op.Input, DType.F16, [], Input: 1);
        ElementwiseInput[] ins = [new(DType.F16, InnerAccess.Contiguous), new(DType.F16, InnerAccess.Contiguous)];
        ElementwiseSpec Spec(params BodyOp[] body) => new(ins, body, DType.F16, 2);
        Assert.Equal((typeof(SiluGate), 0), GpuLowering.GateOf(Spec(a, b, new(Op.Silu, DType.F16, [0]), new(Op.Mul, DType.F16, [2, 1]))));
        Assert.Equal((typeof(SiluGate), 1), GpuLowering.GateOf(Spec(a, b, new(Op.Silu, DType.F16, [1]), new(Op.Mul, DType.F16, [0, 2]))));
        Assert.Equal((typeof(GeluGate), 0), GpuLowering.GateOf(Spec(a, b, new(Op.Gelu, DType.F16, [0]), new(Op.Mul, DType.F16, [1, 2]))));
        Assert.Null(GpuLowering.GateOf(Spec(a, b, new(Op.Exp, DType.F16, [0]), new(Op.Mul, DType.F16, [2, 1]))));
        Assert.Null(GpuLowering.GateOf(Spec(a, b, new(Op.Silu, DType.F16, [0]), new(Op.Add, DType.F16, [2, 1]))));
        Assert.Null(GpuLowering.GateOf(Spec(a, b, new(Op.Silu, DType.F16, [0]), new(Op.Mul, DType.F16, [2, 0]))));
        Assert.Null(GpuLowering.GateOf(Spec(a, b, new(Op.Silu, DType.F16, [0]), new(Op.Mul, DType.F16, [2, 2]))));
        Assert.Null(GpuLowering.GateOf(Spec(a, a with { Input = 0 }, new(Op.Silu, DType.F16, [0]), new(Op.Mul, DType.F16, [2, 1]))));
    }

    [Theory]
    [InlineData(1, 8, 1)]
    [InlineData(2, 264, 7)]
    [InlineData(3, 520, 33)]
    [InlineData(4, 1032, 5)]
    public void The_gated_kernel_matches_a_double_precision_loop(int rows, int k, int width)
    {
        // Plain rows (no norm) one quad longer than k apart; gate row j and up row width + j of a weight whose rows are
        // one quad longer than k apart, from an offset of one quad.
        foreach (bool bf16 in new[] { false, true })
        {
            var rng = new Random((rows * 7919) + (k * 31) + width + (bf16 ? 1 : 0));
            int octets = k / 8, stride = k + 8;
            ushort[] x = Bits(rng, rows * stride, bf16), b = Bits(rng, 8 + (2 * width * stride), bf16);
            using var context = Context.Create(c => c.CPU().EnableAlgorithms());
            using var acc = context.CreateCPUAccelerator(0);
            using var xb = acc.Allocate1D(x);
            using var bb = acc.Allocate1D(b);
            using var cb = acc.Allocate1D<float>(rows * width);
            int warp = acc.WarpSize, group = Math.Min(GemvKernels.WarpRowsGroupSize, acc.MaxNumThreadsPerGroup) / warp * warp, perGroup = group / warp;
            var config = new KernelConfig((width + perGroup - 1) / perGroup, group);
            var xv = xb.View.AsContiguous().Cast<Quad>();
            var bv = bb.View.AsContiguous().SubView(8).Cast<Quad>();
                        if (bf16)
            {
                acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, int, float, long, long>(
                    FusedGemvKernels.NormGemv<BF16Octets, BF16Rounding, SiluGate, float, F32Storage>)(config, xv, xv, xv, xv, bv, cb.View, rows, width, octets, 0, 0f, stride / 8, stride / 8);
            }
            else
            {
                acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, int, float, long, long>(
                    FusedGemvKernels.NormGemv<HalfOctets, HalfRounding, SiluGate, float, F32Storage>)(config, xv, xv, xv, xv, bv, cb.View, rows, width, octets, 0, 0f, stride / 8, stride / 8);
            }

            acc.Synchronize();
            float[] c = cb.GetAsArray1D();
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < width; j++)
                {
                    double gate = 0, up = 0;
                    for (int i = 0; i < k; i++)
                    {
                        double v = Value(x[(r * stride) + i], bf16);
                        gate += v * Value(b[8 + (j * stride) + i], bf16);
                        up += v * Value(b[8 + ((width + j) * stride) + i], bf16);
                    }

                    double expected = gate / (1 + Math.Exp(-gate)) * up;
                    Assert.True(Math.Abs(c[(r * width) + j] - expected) <= 1e-4 * (1 + Math.Sqrt(k)) * (1 + Math.Abs(up)), $"{(bf16 ? "bf16" : "f16")} row {r} column {j}: {c[(r * width) + j]}, expected {expected}");
                }
            }
        }
    }

    /// <summary>
    /// x (normalized after a residual add where <paramref name="norm"/>) through a merged gate/up projection (one
    /// constant [2 · width, k]), act(first half) · second half, and a down projection.
    /// </summary>
    private static (Graph Graph, HostTensor[] Inputs) Build(DType dt, bool norm, Op act, int rows, int k, int width, bool alsoProduct, bool plusOne, bool upFirst = false)
    {
        var rng = new Random((rows * 131) + k + width + (norm ? 1 : 0) + (int)dt + (int)act);
        var x = Input("x", dt, Shape.Of(1, rows, k));
        var r = Input("r", dt, Shape.Of(1, rows, k));
        var s = Binary(Op.Add, x, r);
        var y = norm ? RmsNorm(s, Constant(BackendCases.Random(rng, dt, [k], 0.5, 1.5), "g"), 1e-5) : x;
        var product = MatMul(y, Transpose(Constant(BackendCases.Random(rng, dt, [2 * width, k], -0.5, 0.5), "gate_up"), 0, 1));
        var (first, second) = (Slice(product, 2, 0, width), Slice(product, 2, width, 2 * width));
        // With upFirst the gate is the second half (and the product written up · act(gate)).
        var h = upFirst ? Binary(Op.Mul, first, Unary(act, second)) : Binary(Op.Mul, Unary(act, first), second);
        if (plusOne) h = Binary(Op.Add, h, 1.0);
        var down = MatMul(h, Transpose(Constant(BackendCases.Random(rng, dt, [16, width], -0.5, 0.5), "down"), 0, 1));
        Node[] outputs = norm ? [down, s] : [down];
        if (alsoProduct) outputs = [.. outputs, product];
        var g = new Graph(norm ? [x, r] : [x], outputs);
        return (g, [.. g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], -1, 1))]);
    }

    /// <summary>Runs the graph twice on ILGPU's CPU accelerator against the reference interpreter and checks how many steps each run left out.</summary>
    private void AssertFolds(Graph g, HostTensor[] inputs, DType dt, int k, int folded)
    {
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, k);
        using var exe = Assert.IsType<GpuExecutable>(CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        for (int run = 1; run <= 2; run++)
        {
            Assert.Null(BackendCases.Compare(expected, exe.Run(inputs), atol, rtol));
            Assert.Equal(folded * run, exe.FoldedSteps);
            if (Staged && folded > 0) Assert.True(exe.StagedSteps > 0, "no product was staged");
        }
    }

    /// <summary>Whether the class runs with <see cref="GpuLowering.StagedGemvVariable"/> on (its staged form checks that products were staged).</summary>
    protected virtual bool Staged => false;

    private static ushort[] Bits(Random rng, int count, bool bf16)
    {
        var bits = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            double v = (rng.NextDouble() * 2) - 1;
            bits[i] = bf16 ? (ushort)(BitConverter.SingleToUInt32Bits((float)v) >> 16) : BitConverter.HalfToUInt16Bits((System.Half)v);
        }

        return bits;
    }

    private static double Value(ushort bits, bool bf16) =>
        bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (double)BitConverter.UInt16BitsToHalf(bits);
}
