using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// rms_norms folded into the few-row products that read them (<see cref="FusedGemvKernels.NormGemv{TS, TR, TA, TC, TCS}"/>)
/// on ILGPU's CPU accelerator, where the few-row kernels come first: graphs against the reference interpreter (f32, f16,
/// bf16; with and without a residual and a weight; 1 to 4 rows; two products of one norm), the fold counted where it
/// applies and not where the normalized rows are also a graph output or read by another call, where the rows are
/// too many or their length no multiple of 8, or where <see cref="GpuLowering.FoldVariable"/> is 0; a decode step whose
/// arena puts written memory over what a folded product reads falls back and stays right; and the kernel launched
/// directly against a double-precision loop.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public class NormFoldTests
{
    public static TheoryData<DType, bool, bool, int> Cases()
    {
        var data = new TheoryData<DType, bool, bool, int>();
        int i = 0;
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (bool residual in new[] { true, false })
            {
                foreach (bool weight in new[] { true, false })
                {
                    data.Add(dt, residual, weight, 1 + (i++ % GemvKernels.MaxRows));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_folded_norm_matches_the_reference_interpreter(DType dt, bool residual, bool weight, int rows)
    {
        var (g, inputs) = Build(dt, residual, weight, rows, 264, 19);
        AssertFolds(g, inputs, dt, 264, folded: 1);
    }

    [Fact]
    public void Two_products_of_one_norm_both_compute_it()
    {
        // Weights that are inputs are not merged into one product, so the norm has two readers right after it.
        var rng = new Random(5);
        const int rows = 3, k = 64;
        var x = Input("x", DType.F16, Shape.Of(1, rows, k));
        var r = Input("r", DType.F16, Shape.Of(1, rows, k));
        var w1 = Input("w1", DType.F16, Shape.Of(9, k));
        var w2 = Input("w2", DType.F16, Shape.Of(5, k));
        var s = Binary(Op.Add, x, r);
        var y = RmsNorm(s, Constant(BackendCases.Random(rng, DType.F16, [k], 0.5, 1.5), "g"), 1e-5);
        var g = new Graph([x, r, w1, w2], [MatMul(y, Transpose(w1, 0, 1)), MatMul(y, Transpose(w2, 0, 1)), s]);
        AssertFolds(g, RandomInputs(g, rng), DType.F16, k, folded: 1);
    }

    [Fact]
    public void Normalized_rows_that_are_a_graph_output_are_not_folded()
    {
        var rng = new Random(6);
        var (y, product, inputs) = NormAndProduct(DType.F16, 2, 64, 7);
        var g = new Graph(inputs, [product, y]);
        AssertFolds(g, RandomInputs(g, rng), DType.F16, 64, folded: 0);
    }

    [Fact]
    public void Normalized_rows_read_by_another_call_are_not_folded()
    {
        var rng = new Random(7);
        var (y, product, inputs) = NormAndProduct(DType.BF16, 1, 64, 7);
        var g = new Graph(inputs, [product, Unary(Op.Exp, y)]);
        AssertFolds(g, RandomInputs(g, rng), DType.BF16, 64, folded: 0);
    }

    [Theory]
    [InlineData(1, 36)]
    [InlineData(5, 64)]
    public void Rows_the_fused_kernel_does_not_take_run_the_norm_and_the_product(int rows, int k)
    {
        var (g, inputs) = Build(DType.F16, true, true, rows, k, 6);
        AssertFolds(g, inputs, DType.F16, k, folded: 0);
    }

    [Fact]
    public void The_switch_turns_the_fold_off()
    {
        var (g, inputs) = Build(DType.F16, true, true, 2, 64, 6);
        Environment.SetEnvironmentVariable(GpuLowering.FoldVariable, "0");
        try
        {
            AssertFolds(g, inputs, DType.F16, 64, folded: 0);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuLowering.FoldVariable, null);
        }
    }

    [Fact]
    public void Written_memory_that_overlaps_what_the_products_read_runs_the_calls_unfolded()
    {
        // Without the lowering keeping the folds' operands live, the arena lays the last norm's sum (read by nothing
        // after it) under the logits the product writes: that fold must fall back and the step stay right.
        string dir = Path.Combine(Path.GetTempPath(), "candle-gpu-fold-overlap-" + Guid.NewGuid().ToString("N"));
        GpuLowering.HoldsFoldOperands = false;
        try
        {
            TinyModels.Write(dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(13).Without(".bias"));
            var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir, new ModelLoadOptions { DType = DType.F16 }));
            const int rows = 6;
            var graph = model.TraceStaticDecode(rows);
            var inputs = FoldedDecodeTests.StaticDecodeInputs(model, graph, rows, 3, seed: 8);

            using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
            using var gpu = Assert.IsType<GpuExecutable>(GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default));
            var expected = reference.Run([.. inputs.Select(t => t.Clone())]);
            var actual = gpu.Run([.. inputs.Select(t => t.Clone())]);
            int norms = FoldedDecodeTests.NormCalls(gpu);
            Assert.InRange(gpu.FoldedSteps, 0, norms + model.NumLayers - 1);
            for (int o = 0; o < expected.Length; o++)
            {
                var (e, a) = (expected[o].ToFloat32(), actual[o].ToFloat32());
                for (int i = 0; i < e.Length; i++)
                {
                    Assert.True(Math.Abs(e[i] - a[i]) <= 2e-2 * (1 + Math.Abs(e[i])), $"{gpu.OutputNames[o]}[{i}]: {a[i]}, expected {e[i]}");
                }
            }
        }
        finally
        {
            GpuLowering.HoldsFoldOperands = true;
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(1, 8, 1)]
    [InlineData(2, 264, 7)]
    [InlineData(3, 520, 64)]
    [InlineData(4, 1032, 5)]
    public void The_kernel_matches_a_double_precision_loop(int rows, int k, int n)
    {
        foreach (bool bf16 in new[] { false, true })
        {
            var rng = new Random((rows * 7919) + (k * 31) + n + (bf16 ? 1 : 0));
            int octets = k / 8, stride = k + 8;
            ushort[] x = Bits(rng, rows * k, bf16, 1), r = Bits(rng, rows * k, bf16, 1), g = Bits(rng, k, bf16, 2), b = Bits(rng, 8 + (n * stride), bf16, 1);
            using var context = Context.Create(c => c.CPU().EnableAlgorithms());
            using var acc = context.CreateCPUAccelerator(0);
            using var xb = acc.Allocate1D(x);
            using var rb = acc.Allocate1D(r);
            using var gb = acc.Allocate1D(g);
            using var bb = acc.Allocate1D(b);
            using var sb = acc.Allocate1D<ushort>(rows * k);
            using var cb = acc.Allocate1D<float>(rows * n);
            int warp = acc.WarpSize, group = Math.Min(GemvKernels.WarpRowsGroupSize, acc.MaxNumThreadsPerGroup) / warp * warp;
            int warps = (n + FusedGemvKernels.RowsPerWarp - 1) / FusedGemvKernels.RowsPerWarp, perGroup = group / warp;
            var config = new KernelConfig((warps + perGroup - 1) / perGroup, group);
            var args = (xb.View.AsContiguous().Cast<Quad>(), rb.View.AsContiguous().Cast<Quad>(), sb.View.AsContiguous().Cast<Quad>(), gb.View.AsContiguous().Cast<Quad>(), bb.View.AsContiguous().SubView(8).Cast<Quad>());
            const float eps = 1e-5f;
            if (bf16)
            {
                acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, int, float, long, long>(
                    FusedGemvKernels.NormGemv<BF16Octets, BF16Rounding, NoGate, float, F32Storage>)(config, args.Item1, args.Item2, args.Item3, args.Item4, args.Item5, cb.View, rows, n, octets, FusedGemvKernels.Normalizes | FusedGemvKernels.HasWeight | FusedGemvKernels.HasResidual | FusedGemvKernels.WritesSum, eps, stride / 8, octets);
            }
            else
            {
                acc.LoadStreamKernel<ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<Quad>, ArrayView<float>, int, int, int, int, float, long, long>(
                    FusedGemvKernels.NormGemv<HalfOctets, HalfRounding, NoGate, float, F32Storage>)(config, args.Item1, args.Item2, args.Item3, args.Item4, args.Item5, cb.View, rows, n, octets, FusedGemvKernels.Normalizes | FusedGemvKernels.HasWeight | FusedGemvKernels.HasResidual | FusedGemvKernels.WritesSum, eps, stride / 8, octets);
            }

            acc.Synchronize();
            float[] c = cb.GetAsArray1D();
            ushort[] sum = sb.GetAsArray1D();
            string which = bf16 ? "bf16" : "f16";
            for (int row = 0; row < rows; row++)
            {
                // The sum as the norm stores it: x + r rounded to the dtype (exact in double before the rounding).
                var s = new double[k];
                double squares = 0;
                for (int i = 0; i < k; i++)
                {
                    ushort bits = Round(Value(x[(row * k) + i], bf16) + Value(r[(row * k) + i], bf16), bf16);
                    Assert.True(bits == sum[(row * k) + i], $"{which} sum row {row} element {i}: {sum[(row * k) + i]:x4}, expected {bits:x4}");
                    s[i] = Value(bits, bf16);
                    squares += s[i] * s[i];
                }

                double rstd = 1 / Math.Sqrt((squares / k) + eps);
                for (int j = 0; j < n; j++)
                {
                    double expected = 0;
                    for (int i = 0; i < k; i++) expected += s[i] * rstd * Value(g[i], bf16) * Value(b[8 + (j * stride) + i], bf16);
                    Assert.True(Math.Abs(c[(row * n) + j] - expected) <= 1e-4 * (1 + Math.Sqrt(k)), $"{which} row {row} column {j}: {c[(row * n) + j]}, expected {expected}");
                }
            }
        }
    }

    /// <summary>x (+ r) normalized with an optional weight and multiplied by a constant [n, k] weight; the sum is an output too.</summary>
    private static (Graph Graph, HostTensor[] Inputs) Build(DType dt, bool residual, bool weight, int rows, int k, int n)
    {
        var rng = new Random((rows * 131) + k + n + (residual ? 2 : 0) + (weight ? 1 : 0) + (int)dt);
        var x = Input("x", dt, Shape.Of(1, rows, k));
        var r = Input("r", dt, Shape.Of(1, rows, k));
        var s = residual ? Binary(Op.Add, x, r) : x;
        var y = RmsNorm(s, weight ? Constant(BackendCases.Random(rng, dt, [k], 0.5, 1.5), "g") : null, 1e-5);
        var w = Constant(BackendCases.Random(rng, dt, [n, k], -1, 1), "w");
        var product = MatMul(y, Transpose(w, 0, 1));
        var g = residual ? new Graph([x, r], [product, s]) : new Graph([x], [product]);
        return (g, RandomInputs(g, rng));
    }

    private static (Node Y, Node Product, Node[] Inputs) NormAndProduct(DType dt, int rows, int k, int n)
    {
        var rng = new Random(rows + k + n);
        var x = Input("x", dt, Shape.Of(1, rows, k));
        var r = Input("r", dt, Shape.Of(1, rows, k));
        var y = RmsNorm(Binary(Op.Add, x, r), Constant(BackendCases.Random(rng, dt, [k], 0.5, 1.5), "g"), 1e-5);
        return (y, MatMul(y, Transpose(Constant(BackendCases.Random(rng, dt, [n, k], -1, 1), "w"), 0, 1)), [x, r]);
    }

    private static HostTensor[] RandomInputs(Graph g, Random rng) =>
        [.. g.Inputs.Select(i => BackendCases.Random(rng, i.DType, [.. i.Shape.Select(d => (int)d.Value)], -1, 1))];

    /// <summary>Runs the graph twice on ILGPU's CPU accelerator against the reference interpreter and checks how many norms each run left out.</summary>
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

    private static ushort[] Bits(Random rng, int count, bool bf16, double scale)
    {
        var bits = new ushort[count];
        for (int i = 0; i < count; i++) bits[i] = Round(scale * ((rng.NextDouble() * 2) - 1), bf16);
        return bits;
    }

    private static ushort Round(double v, bool bf16)
    {
        if (!bf16) return BitConverter.HalfToUInt16Bits((System.Half)v);
        uint f = BitConverter.SingleToUInt32Bits((float)v);
        return (ushort)((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
    }

    private static double Value(ushort bits, bool bf16) =>
        bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (double)BitConverter.UInt16BitsToHalf(bits);
}
