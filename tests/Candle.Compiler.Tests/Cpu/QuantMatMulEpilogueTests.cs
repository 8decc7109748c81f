using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Cpu;

/// <summary>
/// Epilogues fused into quantized products (<see cref="FusedKinds.QuantMatMulEpilogue"/>): a gated MLP whose up (or
/// gate) product multiplies by silu of the other branch and whose down product adds the residual, and a product with
/// bias and activation, through the fused plan (O2), the unfused plan (O1: the same quantized kernels, each epilogue
/// op its own step) and the reference interpreter on the exact dequantization.
/// </summary>
public sealed class QuantMatMulEpilogueTests
{
    public static TheoryData<GgmlType, int> TypesAndRows()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var type in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q5_0 })
        {
            // 1–3 rows: the decode GEMVs; 6: the packed panels (a tile of 4 and one of 2); 40: the panels, or the
            // dequantized SGEMM for the types without them.
            foreach (int rows in new[] { 1, 3, 6, 40 }) data.Add(type, rows);
        }

        return data;
    }

    private static (Graph Graph, Node Gated) GatedMlp(Random rng, GgmlType type, int rows, out int k)
    {
        bool super = GgmlTypeTraits.BlockSize(type) == 256;
        k = super ? 512 : 288;
        int hidden = super ? 768 : 352;
        var x = Input("x", DType.F32, Shape.Of(1, rows, k));
        var gate = QuantMatMul(x, QuantConstant(QuantMatMulTests.RandomTensor(rng, type, hidden, k, "gate")));
        var up = QuantMatMul(x, QuantConstant(QuantMatMulTests.RandomTensor(rng, type, hidden, k, "up")));
        var gated = Binary(Op.Mul, Unary(Op.Silu, gate), up);
        var down = QuantMatMul(gated, QuantConstant(QuantMatMulTests.RandomTensor(rng, type, k, hidden, "down")));

        // A second head: bias and activation on a product of 42 rows (a panel of 2 left over).
        var bias = Constant(CpuHarness.Random(rng, DType.F32, [42], -1, 1));
        var head = Unary(Op.Gelu, Binary(Op.Add, QuantMatMul(x, QuantConstant(QuantMatMulTests.RandomTensor(rng, type, 42, k, "head"))), bias));
        return (new Graph([x], [Binary(Op.Add, down, x), head]), gated);
    }

    [Theory]
    [MemberData(nameof(TypesAndRows))]
    public void Fused_epilogues_match_the_unfused_plan_and_the_interpreter(GgmlType type, int rows)
    {
        var rng = new Random(((int)type * 17) + rows);
        var (g, _) = GatedMlp(rng, type, rows, out int k);
        var input = CpuHarness.Random(rng, DType.F32, [1, rows, k], -1, 1);
        var reference = ReferenceInterpreter.Run(g, [input]);
        foreach (int threads in new[] { 1, 2 })
        {
            var fusedPlan = CpuHarness.Compile(g, threads: threads, optLevel: 2);
            Assert.Contains("rt:quant_matmul@gen:", fusedPlan.Describe(), StringComparison.Ordinal);
            var fused = fusedPlan.Run([input]);
            var unfusedPlan = CpuHarness.Compile(g, threads: threads, optLevel: 1);
            Assert.DoesNotContain("rt:quant_matmul@", unfusedPlan.Describe(), StringComparison.Ordinal);
            var unfused = unfusedPlan.Run([input]);
            for (int o = 0; o < 2; o++)
            {
                var want = reference[o].ToFloat32();
                var same = unfused[o].ToFloat32();
                var got = fused[o].ToFloat32();
                double rms = Math.Sqrt(want.Sum(v => (double)v * v) / want.Length);

                // The same quantized products: fused and unfused differ by float32 rounding of the epilogue only.
                // Against the exact dequantization: the 8-bit rounding of the activations, twice on the way to the down
                // product, whose sums over 352–768 terms cancel (up to 3% of the output's rms seen); a wrong or missing
                // epilogue op, or a branch read after it was overwritten, is off by the order of the rms itself.
                for (int i = 0; i < want.Length; i++)
                {
                    Assert.True(Math.Abs(got[i] - same[i]) <= (1e-5 * rms) + (1e-5 * Math.Abs(same[i])), $"{type} rows={rows} threads={threads} output {o} [{i}]: fused {got[i]} vs unfused {same[i]}");
                    Assert.True(Math.Abs(got[i] - want[i]) <= 0.1 * rms, $"{type} rows={rows} threads={threads} output {o} [{i}]: fused {got[i]} vs reference {want[i]} (rms {rms})");
                }
            }
        }
    }

    [Fact]
    public void The_gated_product_is_one_fused_group_written_over_its_dying_branch()
    {
        const int Rows = 64;
        var (g, gated) = GatedMlp(new Random(11), GgmlType.Q4_0, Rows, out _);

        // The product of the gated MLP: silu of one branch times the other, one group around one of the two products.
        var groups = Fusion.FindGroups(g, new CpuBackend().Capabilities);
        var group = Assert.Single(groups, gr => gr.Members.Contains(gated));
        Assert.Equal(FusedKinds.QuantMatMulEpilogue, group.Kind);
        Assert.Contains(group.Members, m => m.Op == Op.Silu);
        Assert.Single(group.Members, m => m.Op == Op.QuantMatMul);

        // The residual add rides on the down product, the bias and activation on the head's.
        Assert.Single(groups, gr => gr.Kind == FusedKinds.QuantMatMulEpilogue && gr.Root.Op == Op.Add && gr.Members.Any(m => m.Op == Op.QuantMatMul) && gr.Root.Shape.Equals(g.Outputs[0].Shape));
        Assert.Single(groups, gr => gr.Kind == FusedKinds.QuantMatMulEpilogue && gr.Root.Op == Op.Gelu);

        // In the plan: three products with epilogues, and the arena holds one [rows, 352] branch at a time (the fused
        // product writes over the other branch, which dies there), not two.
        var plan = CpuHarness.Compile(g, optLevel: 2);
        Assert.Equal(3, plan.Definition.Steps.Count(s => s.Kernel.StartsWith("rt:quant_matmul@gen:", StringComparison.Ordinal)));
        Assert.Equal(1, plan.Definition.Steps.Count(s => s.Kernel == "rt:quant_matmul"));
        long branch = Rows * 352 * sizeof(float);
        long peak = plan.PeakArenaBytes(new Dictionary<string, long>());
        Assert.True(peak < 2 * branch, $"peak arena {peak} bytes, one branch {branch}");
        var unfusedPeak = CpuHarness.Compile(g, optLevel: 1).PeakArenaBytes(new Dictionary<string, long>());
        Assert.True(unfusedPeak >= 2 * branch, $"unfused peak arena {unfusedPeak} bytes, one branch {branch}");
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 1)]
    [InlineData(GgmlType.Q4_K, 6)]
    public void An_interpreted_epilogue_gives_the_generated_ones_outputs(GgmlType type, int rows)
    {
        var rng = new Random(19);
        var (g, _) = GatedMlp(rng, type, rows, out int k);
        var input = CpuHarness.Random(rng, DType.F32, [1, rows, k], -1, 1);
        var options = new Candle.Compiler.Backends.CompileOptions { OptLevel = 2 };
        var interpreted = new CpuBackend(generateKernels: false).CompilePlan(g, options);
        Assert.Contains("rt:quant_matmul@rt:fused", interpreted.Describe(), StringComparison.Ordinal);
        var generated = new CpuBackend().CompilePlan(g, options).Run([input]);
        var got = interpreted.Run([input]);
        for (int o = 0; o < 2; o++)
        {
            var want = generated[o].ToFloat32();
            var have = got[o].ToFloat32();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(have[i] - want[i]) <= 1e-4 * (1 + Math.Abs(want[i])), $"output {o} [{i}]: {have[i]} vs {want[i]}");
        }
    }

    [Fact]
    public void A_saved_plan_with_a_fused_quantized_product_loads_and_gives_the_same_outputs()
    {
        var rng = new Random(13);
        var (g, _) = GatedMlp(rng, GgmlType.Q8_0, 5, out int k);
        var plan = CpuHarness.Compile(g, optLevel: 2);
        var input = CpuHarness.Random(rng, DType.F32, [1, 5, k], -1, 1);
        string path = Path.Combine(Path.GetTempPath(), $"candle-quant-epilogue-{Guid.NewGuid():N}.plan");
        try
        {
            plan.Save(path);
            using var loaded = Plan.Load(path);
            Assert.Equal(plan.Run([input])[0].AsSpan<float>().ToArray(), loaded.Run([input])[0].AsSpan<float>().ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
