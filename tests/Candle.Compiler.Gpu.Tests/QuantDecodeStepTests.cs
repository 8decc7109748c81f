using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// One decode step and a short prefill of the tiny GGUF llamas (tests/fixtures/gguf: Q8_0, Q4_0 and Q4_K_M, whose
/// Q6_K tensors the GPU backend decomposes) through the GPU plans on ILGPU's CPU accelerator — quantized GEMVs and
/// lookups on the stored blocks, the prefill's products on dequantized weights — against the reference interpreter on
/// the same traced graph, every output (logits and the caches).
/// </summary>
public class QuantDecodeStepTests
{
    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q4_k_m")]
    public void QuantizedDecodeStepMatchesTheReferenceInterpreter(string quant)
    {
        var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(Path.Combine(Fixtures.Dir, "gguf", $"llama-{quant}.gguf")));
        const int Position = 4;
        var graph = model.TraceDecode();
        var rng = new Random(5);
        var inputs = new List<HostTensor> { HostTensor.FromArray([9L], 1, 1), HostTensor.FromArray([(long)Position], 1, 1) };
        for (int i = 2; i < graph.Inputs.Length; i++)
        {
            var v = new double[(Position + 1) * model.NumKvHeads * model.HeadDim];
            for (int j = 0; j < v.Length; j++) v[j] = (rng.NextDouble() * 2) - 1;
            inputs.Add(HostTensor.FromDoubles(model.KvCacheDType, v, Position + 1, 1, model.NumKvHeads, model.HeadDim));
        }

        Compare(graph, inputs);
    }

    [Fact]
    public void QuantizedPrefillMatchesTheReferenceInterpreter()
    {
        var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(Path.Combine(Fixtures.Dir, "gguf", "llama-q4_0.gguf")));
        var graph = model.TracePrefill();
        const int Tokens = 11;
        var ids = new long[Tokens];
        for (int i = 0; i < Tokens; i++) ids[i] = 3 + (i * 17 % 200);
        var inputs = new List<HostTensor> { HostTensor.FromArray(ids, 1, Tokens) };
        Assert.Single(graph.Inputs);
        Compare(graph, inputs);
    }

    private static void Compare(Ir.Graph graph, List<HostTensor> inputs)
    {
        using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
        using var gpu = GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default);
        var expected = reference.Run([.. inputs.Select(t => t.Clone())]);
        var actual = gpu.Run([.. inputs.Select(t => t.Clone())]);
        for (int o = 0; o < expected.Length; o++)
        {
            var (e, a) = (expected[o].ToFloat32(), actual[o].ToFloat32());
            Assert.Equal(expected[o].Shape, actual[o].Shape);
            for (int i = 0; i < e.Length; i++)
            {
                Assert.True(Math.Abs(e[i] - a[i]) <= 1e-3 * (1 + Math.Abs(e[i])), $"{gpu.OutputNames[o]}[{i}]: {a[i]}, expected {e[i]}");
            }
        }
    }
}
