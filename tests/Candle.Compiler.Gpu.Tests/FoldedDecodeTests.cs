using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// A tiny llama's decode steps on ILGPU's CPU accelerator, where the few-row kernels come first and fold every
/// rms_norm into the products that read it, every SwiGLU into its gate/up product and every rope call over the whole
/// q/k/v output into that product: the greedy tokens and logits of the device session are the CPU session's, and each
/// decode step does the work of every norm call, SwiGLU call and such rope call inside the products (one launch fewer
/// a layer for the rope) (counted by <see cref="GpuExecutable.FoldedSteps"/>), in f32 through the session and in f16 and
/// bf16 on one fixed-size-cache step against the reference interpreter.
/// </summary>
public sealed class FoldedDecodeTests(TinyLlamaSessions sessions) : IClassFixture<TinyLlamaSessions>
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Greedy_decoding_with_folded_norms_and_swiglus_matches_the_cpu_session() => AssertGreedyDecode(sessions);

    /// <summary>Five greedy decode steps of the sessions' device session against their CPU session, each folding every norm and SwiGLU; returns the device plan.</summary>
    internal static GpuExecutable AssertGreedyDecode(TinyLlamaSessions sessions)
    {
        var (cpu, gpu) = sessions.Sessions();
        var plan = Assert.IsType<GpuExecutable>(gpu.DecodePlan);
        int norms = NormCalls(plan);
        Assert.Equal(2 * sessions.Model.NumLayers + 1, norms);

        // Every norm, every layer's SwiGLU and every layer's rope call (q, k and v rows written by the q/k/v product).
        Assert.Equal(sessions.Model.NumLayers, QkvRopeCalls(plan));
        int folded = norms + (2 * sessions.Model.NumLayers);
        cpu.Reset(16);
        gpu.Reset(16);
        var prompt = HostTensor.FromArray([1L, 7, 30, 4, 12], 1, 5);
        var expected = cpu.Prefill(prompt);
        var actual = gpu.Prefill(prompt);
        for (int step = 0; step < 5; step++)
        {
            int token = GreedyLogits.ArgMaxLast(expected);
            Assert.Equal(token, GreedyLogits.ArgMaxLast(actual));
            var ids = HostTensor.FromArray([(long)token], 1, 1);
            long before = plan.FoldedSteps;
            expected = cpu.Decode(ids);
            actual = gpu.Decode(ids);
            Assert.Equal(folded, plan.FoldedSteps - before);
            var (e, a) = (expected.ToFloat32(), actual.ToFloat32());
            for (int i = 0; i < e.Length; i++)
            {
                Assert.True(Math.Abs(e[i] - a[i]) <= Tolerance * Math.Max(1, Math.Abs(e[i])), $"decode step {step} logits[{i}]: {a[i]}, expected {e[i]}");
            }
        }

        return plan;
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void A_sixteen_bit_decode_step_folds_every_norm_and_swiglu_and_matches_the_reference_interpreter(DType dtype) => AssertSixteenBitStep(dtype);

    /// <summary>One 16-bit static decode step against the reference interpreter, folding every norm and SwiGLU; returns how many products it launched staged.</summary>
    internal static long AssertSixteenBitStep(DType dtype)
    {
        string dir = Path.Combine(Path.GetTempPath(), "candle-gpu-fold-" + Guid.NewGuid().ToString("N"));
        try
        {
            TinyModels.Write(dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(13).Without(".bias"));
            var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir, new ModelLoadOptions { DType = dtype }));
            const int rows = 6, position = 3;
            var graph = model.TraceStaticDecode(rows);
            var inputs = StaticDecodeInputs(model, graph, rows, position, seed: 8);

            using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
            using var gpu = Assert.IsType<GpuExecutable>(GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default));
            var expected = reference.Run([.. inputs.Select(t => t.Clone())]);
            var actual = gpu.Run([.. inputs.Select(t => t.Clone())]);
            // The first layer's query rope is its own call (the position's comparison runs between), so only later layers' rope calls read the whole q/k/v output.
            Assert.Equal(model.NumLayers - 1, QkvRopeCalls(gpu));
            Assert.Equal(NormCalls(gpu) + model.NumLayers + QkvRopeCalls(gpu), gpu.FoldedSteps);
            double tol = dtype == DType.F16 ? 2e-2 : 6e-2;
            for (int o = 0; o < expected.Length; o++)
            {
                var (e, a) = (expected[o].ToFloat32(), actual[o].ToFloat32());
                for (int i = 0; i < e.Length; i++)
                {
                    Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{gpu.OutputNames[o]}[{i}]: {a[i]}, expected {e[i]}");
                }
            }

            return gpu.StagedSteps;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The norm calls of a plan's kernel graph.</summary>
    internal static int NormCalls(GpuExecutable plan) =>
        plan.ListCalls().Split(Environment.NewLine).Count(c => c.StartsWith("Norm:", StringComparison.Ordinal));

    /// <summary>The rope calls of a plan's kernel graph that rotate q and k and write the new cache rows (three parts of one q/k/v product).</summary>
    internal static int QkvRopeCalls(GpuExecutable plan) =>
        plan.ListCalls().Split(Environment.NewLine).Count(c => c.StartsWith("RopeRows: ropes x2,", StringComparison.Ordinal));

    /// <summary>
    /// The inputs of a static decode step over a cache of <paramref name="rows"/> positions: token 9 at
    /// <paramref name="position"/>, and every cache tensor filled with uniform values in [-1, 1) from <paramref name="seed"/>.
    /// </summary>
    internal static List<HostTensor> StaticDecodeInputs(CausalLanguageModel model, Compiler.Ir.Graph graph, int rows, long position, int seed)
    {
        var rng = new Random(seed);
        var inputs = new List<HostTensor> { HostTensor.FromArray([9L], 1, 1), HostTensor.FromArray([position], 1, 1) };
        for (int i = 2; i < graph.Inputs.Length; i++)
        {
            var v = new double[rows * model.NumKvHeads * model.HeadDim];
            for (int j = 0; j < v.Length; j++) v[j] = (rng.NextDouble() * 2) - 1;
            inputs.Add(HostTensor.FromDoubles(model.KvCacheDType, v, rows, 1, model.NumKvHeads, model.HeadDim));
        }

        return inputs;
    }
}
