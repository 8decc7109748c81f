using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// One decode step of the tiny GGUF llamas (tests/fixtures/gguf: Q4_0, and Q4_K_M whose Q6_K tensors the GPU
/// backend decomposes) through the GPU plans on ILGPU's CPU accelerator — quantized GEMVs and lookups on the stored
/// blocks — against the reference interpreter on the same traced step, every output (logits and the updated caches).
/// Products over more rows are checked at kernel size by <see cref="QuantKernelTests"/> (a whole prefill is too slow
/// on the CPU accelerator).
/// </summary>
public class QuantDecodeStepTests
{
    [Theory]
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
