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
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// A decode step's rope call folded into its merged q/k/v product (<see cref="RopeGemvKernels.RopeGemv{TS, TR, T, TCS}"/>)
/// on ILGPU's CPU accelerator, where the few-row kernels come first: decode-layer graphs (q/k/v product over an
/// rms_norm or over the input, q and k rotated, k and v written into a fixed-size cache at the position) against the
/// reference interpreter in f32, f16 and bf16, interleaved or not, with several (grouped) head counts and positions
/// inside and outside the cache (where nothing may be written); the fold counted where it applies and not where the
/// product has two rows, its depth is no multiple of 8, its output is also a graph output, or either switch is 0; a
/// TinyLlama static decode step that launches one call fewer a layer with the fold than without it; and one whose
/// arena may put the rotated query over what the product reads, which stays right.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public class RopeFoldTests
{
    private const int Capacity = 6;

    public static TheoryData<DType, bool, bool, int, int, int, long> Cases()
    {
        var data = new TheoryData<DType, bool, bool, int, int, int, long>();
        (int Heads, int KvHeads, int HeadDim)[] heads = [(4, 2, 8), (8, 1, 16), (2, 2, 32), (6, 3, 8)];
        long[] positions = [0, 3, Capacity - 1, Capacity, -1];
        int i = 0;
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (bool interleaved in new[] { false, true })
            {
                foreach (bool norm in new[] { true, false })
                {
                    var (h, kv, d) = heads[i % heads.Length];
                    data.Add(dt, interleaved, norm, h, kv, d, positions[i % positions.Length]);
                    i++;
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_folded_rope_matches_the_reference_interpreter(DType dt, bool interleaved, bool norm, int heads, int kvHeads, int headDim, long position)
    {
        var (g, inputs) = Build(dt, interleaved, norm, heads, kvHeads, headDim, position, batch: 1, k: 64);
        AssertFolds(g, inputs, dt, 64, folded: (norm ? 1 : 0) + 1);
    }

    [Theory]
    [InlineData(DType.F16, false)]
    [InlineData(DType.BF16, true)]
    [InlineData(DType.F32, false)]
    public void Tables_computed_between_the_product_and_the_rope_still_fold(DType dt, bool interleaved)
    {
        var (g, inputs) = Build(dt, interleaved, true, 4, 2, 8, 2, batch: 1, k: 64, computedTables: true);
        AssertFolds(g, inputs, dt, 64, folded: 2);
    }

    [Fact]
    public void Two_activation_rows_run_the_product_and_the_rope_call()
    {
        // The norm still folds into the product (two rows), the rope call runs on its own.
        var (g, inputs) = Build(DType.F16, false, true, 4, 2, 8, 3, batch: 2, k: 64);
        AssertFolds(g, inputs, DType.F16, 64, folded: 1);
    }

    [Fact]
    public void A_depth_that_is_no_multiple_of_8_runs_the_product_and_the_rope_call()
    {
        var (g, inputs) = Build(DType.F32, false, false, 4, 2, 8, 3, batch: 1, k: 36);
        AssertFolds(g, inputs, DType.F32, 36, folded: 0);
    }

    [Fact]
    public void A_product_output_that_is_also_a_graph_output_is_not_folded()
    {
        var (g, inputs) = Build(DType.BF16, true, true, 4, 2, 8, 1, batch: 1, k: 64, productOutput: true);
        AssertFolds(g, inputs, DType.BF16, 64, folded: 1);
    }

    [Theory]
    [InlineData(GpuLowering.RopeFoldVariable, 1)]
    [InlineData(GpuLowering.FoldVariable, 0)]
    public void The_switches_turn_the_fold_off(string variable, int folded)
    {
        var (g, inputs) = Build(DType.F16, false, true, 4, 2, 8, 2, batch: 1, k: 64);
        Environment.SetEnvironmentVariable(variable, "0");
        try
        {
            AssertFolds(g, inputs, DType.F16, 64, folded);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.F32)]
    public void A_tinyllama_decode_step_launches_one_call_fewer_a_folded_layer(DType dtype)
    {
        string dir = Path.Combine(Path.GetTempPath(), "candle-gpu-rope-fold-" + Guid.NewGuid().ToString("N"));
        try
        {
            TinyModels.Write(dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(17).Without(".bias"));
            var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir, new ModelLoadOptions { DType = dtype }));
            const int rows = 6;
            var graph = model.TraceStaticDecode(rows);
            var inputs = FoldedDecodeTests.StaticDecodeInputs(model, graph, rows, 4, seed: 3);
            using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
            var expected = reference.Run([.. inputs.Select(t => t.Clone())]);
            long with = Run(graph, inputs, expected, dtype), ropes;
            Environment.SetEnvironmentVariable(GpuLowering.RopeFoldVariable, "0");
            try
            {
                using var gpu = Assert.IsType<GpuExecutable>(GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default));
                ropes = FoldedDecodeTests.QkvRopeCalls(gpu);
                long without = Run(graph, inputs, expected, dtype);
                Assert.True(ropes >= 1, "no rope call reads the whole q/k/v output");
                Assert.Equal(ropes, with - without);
            }
            finally
            {
                Environment.SetEnvironmentVariable(GpuLowering.RopeFoldVariable, null);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Without_held_operands_a_decode_step_stays_right()
    {
        // Without the lowering keeping the fold's operands live, the arena may lay the rotated query over what the
        // product reads (the norm's rows): that fold must fall back where it does, and the step stay right.
        string dir = Path.Combine(Path.GetTempPath(), "candle-gpu-rope-fold-overlap-" + Guid.NewGuid().ToString("N"));
        GpuLowering.HoldsFoldOperands = false;
        try
        {
            TinyModels.Write(dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(19).Without(".bias"));
            var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir, new ModelLoadOptions { DType = DType.BF16 }));
            const int rows = 5;
            var graph = model.TraceStaticDecode(rows);
            var inputs = FoldedDecodeTests.StaticDecodeInputs(model, graph, rows, 2, seed: 4);
            using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
            var expected = reference.Run([.. inputs.Select(t => t.Clone())]);
            Run(graph, inputs, expected, DType.BF16);
        }
        finally
        {
            GpuLowering.HoldsFoldOperands = true;
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Runs a compiled decode step against the reference's outputs; the steps it left out.</summary>
    private static long Run(Graph graph, List<HostTensor> inputs, HostTensor[] expected, DType dtype)
    {
        using var gpu = Assert.IsType<GpuExecutable>(GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default));
        var actual = gpu.Run([.. inputs.Select(t => t.Clone())]);
        double tol = dtype switch { DType.F32 => 1e-4, DType.F16 => 2e-2, _ => 6e-2 };
        for (int o = 0; o < expected.Length; o++)
        {
            var (e, a) = (expected[o].ToFloat32(), actual[o].ToFloat32());
            for (int i = 0; i < e.Length; i++)
            {
                Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{gpu.OutputNames[o]}[{i}]: {a[i]}, expected {e[i]}");
            }
        }

        return gpu.FoldedSteps;
    }

    /// <summary>
    /// One decode layer's q/k/v part: x (+ r, rms_norm with a weight, where <paramref name="norm"/>) times a merged
    /// [(heads + 2 kvHeads) · headDim, k] weight, q and k rotated by cos/sin tables of the position (inputs, or computed
    /// from it after the product where <paramref name="computedTables"/>), k and v written into donated caches
    /// [capacity, batch, kvHeads, headDim] at the position. Outputs: the rotated q, both caches (and the residual sum, and
    /// the product itself where <paramref name="productOutput"/>).
    /// </summary>
    private static (Graph Graph, HostTensor[] Inputs) Build(
        DType dt, bool interleaved, bool norm, int heads, int kvHeads, int headDim, long position, int batch, int k,
        bool computedTables = false, bool productOutput = false)
    {
        var rng = new Random((heads * 97) + (kvHeads * 31) + headDim + k + (int)dt + (interleaved ? 5 : 0) + (norm ? 11 : 0));
        int qw = heads * headDim, kw = kvHeads * headDim, half = headDim / 2;
        // The batch is a symbol, as in a traced decode step (a constant batch would fold the row comparison's broadcast into a constant).
        var n = Dim.Sym("batch");
        var x = Input("x", dt, new Shape(n, 1, k));
        var r = Input("r", dt, new Shape(n, 1, k));
        var pos = Input("position", DType.I64, new Shape(n, 1));
        var cacheK = DonatedInput("cache_k", dt, new Shape(Capacity, n, kvHeads, headDim));
        var cacheV = DonatedInput("cache_v", dt, new Shape(Capacity, n, kvHeads, headDim));

        // The rows a static cache step writes, where(arange(capacity) == position, rows, cache), compared before the layer as a model does.
        var write = Binary(Op.Eq, Reshape(Arange(Capacity), Capacity, 1, 1, 1), Unsqueeze(Unsqueeze(Transpose(pos, 0, 1), -1), -1));
        var sum = norm ? Binary(Op.Add, x, r) : x;
        var h = norm ? RmsNorm(sum, Constant(BackendCases.Random(rng, dt, [k], 0.5, 1.5), "g"), 1e-5) : x;
        var w = Constant(BackendCases.Random(rng, dt, [qw + (2 * kw), k], -0.5, 0.5), "w_qkv");
        var qkv = MatMul(h, Transpose(w, 0, 1));
        Node cos, sin;
        var inputs = new List<Node> { x };
        if (norm) inputs.Add(r);
        inputs.AddRange([pos, cacheK, cacheV]);
        if (computedTables)
        {
            // The tables of the position, computed after the product as a model's rotary embedding does.
            var inv = Constant(HostTensor.FromArray([.. Enumerable.Range(0, half).Select(i => (float)Math.Pow(10000, -2.0 * i / headDim))], half), "inv_freq");
            var angle = Binary(Op.Mul, Reshape(Cast(pos, DType.F32), new Dim[] { n, 1, 1, 1 }), Reshape(inv, 1, 1, 1, half));
            cos = Cast(Unary(Op.Cos, angle), dt);
            sin = Cast(Unary(Op.Sin, angle), dt);
        }
        else
        {
            cos = Input("cos", dt, new Shape(n, 1, 1, half));
            sin = Input("sin", dt, new Shape(n, 1, 1, half));
            inputs.AddRange([cos, sin]);
        }

        Node Heads(long start, int count) => Transpose(Reshape(Slice(qkv, 2, start, start + (count * headDim)), new Dim[] { n, 1, count, headDim }), 1, 2);
        var q = Rope(Heads(0, heads), cos, sin, interleaved);
        var key = Rope(Heads(qw, kvHeads), cos, sin, interleaved);
        var value = Heads(qw + kw, kvHeads);

        var newK = Where(write, Permute(key, 2, 0, 1, 3), cacheK);
        var newV = Where(write, Permute(value, 2, 0, 1, 3), cacheV);
        List<Node> outputs = [newK, newV, q];
        if (norm) outputs.Add(sum);
        if (productOutput) outputs.Add(qkv);
        var g = new Graph([.. inputs], [.. outputs]);
        var values = new List<HostTensor>();
        foreach (var input in g.Inputs)
        {
            if (input == pos) values.Add(HostTensor.FromArray([.. Enumerable.Range(0, batch).Select(b => position + b)], batch, 1));
            else if (input == cos || input == sin) values.Add(Tables(input == cos, dt, batch, position, half, headDim));
            else values.Add(BackendCases.Random(rng, input.DType, [.. input.Shape.Select(d => d == n ? batch : (int)d.Value)], -1, 1));
        }

        return (g, [.. values]);
    }

    /// <summary>cos or sin of position · 10000^(-2i/headDim), [batch, 1, 1, half], batch entry b at position + b.</summary>
    private static HostTensor Tables(bool cos, DType dt, int batch, long position, int half, int headDim)
    {
        var v = new double[batch * half];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < half; i++)
            {
                double angle = (position + b) * Math.Pow(10000, -2.0 * i / headDim);
                v[(b * half) + i] = cos ? Math.Cos(angle) : Math.Sin(angle);
            }
        }

        return HostTensor.FromDoubles(dt, v, batch, 1, 1, half);
    }

    /// <summary>Runs the graph twice on ILGPU's CPU accelerator against the reference interpreter and checks how many steps each run left out.</summary>
    private static void AssertFolds(Graph g, HostTensor[] inputs, DType dt, int k, int folded)
    {
        var expected = ReferenceInterpreter.Run(g, inputs);
        var (atol, rtol) = BackendCases.Tol(dt, k);
        using var exe = Assert.IsType<GpuExecutable>(CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu }));
        Assert.Contains("RopeRows: ropes x2,", exe.ListCalls(), StringComparison.Ordinal);
        for (int run = 1; run <= 2; run++)
        {
            Assert.Null(BackendCases.Compare(expected, exe.Run([.. inputs.Select(t => t.Clone())]), atol, rtol));
            Assert.Equal(folded * run, exe.FoldedSteps);
        }
    }
}
