using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// One decode step of a tiny random llama (two layers, GQA) through the GPU plans on ILGPU's CPU accelerator — merged
/// products, residual norms, rope and attention over views, the cache written in place — against the reference
/// interpreter on the same traced step: the growing-cache step and the fixed-size-cache step (rows after the position
/// hold garbage that the mask must hide), every output (logits and the updated caches).
/// </summary>
public class DecodeStepTests
{
    [Theory]
    [InlineData(DType.F32, false)]
    [InlineData(DType.F32, true)]
    [InlineData(DType.F16, false)]
    [InlineData(DType.F16, true)]
    public void DecodeStepMatchesTheReferenceInterpreter(DType dtype, bool fixedSize)
    {
        string dir = Path.Combine(Path.GetTempPath(), "candle-gpu-decode-" + Guid.NewGuid().ToString("N"));
        try
        {
            TinyModels.Write(dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(11).Without(".bias"));
            var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir, new ModelLoadOptions { DType = dtype }));
            const int Rows = 7, Position = 4;
            var graph = fixedSize ? model.TraceStaticDecode(Rows) : model.TraceDecode();
            int cacheRows = fixedSize ? Rows : Position + 1;
            var rng = new Random(5);
            var inputs = new List<HostTensor> { HostTensor.FromArray([9L], 1, 1), HostTensor.FromArray([(long)Position], 1, 1) };
            for (int i = 2; i < graph.Inputs.Length; i++)
            {
                var v = new double[cacheRows * model.NumKvHeads * model.HeadDim];
                for (int j = 0; j < v.Length; j++) v[j] = (rng.NextDouble() * 2) - 1;
                inputs.Add(HostTensor.FromDoubles(model.KvCacheDType, v, cacheRows, 1, model.NumKvHeads, model.HeadDim));
            }

            using var reference = ReferenceBackend.Instance.Compile(graph, CompileOptions.Default);
            using var gpu = GpuBackends.IlgpuCpu.Compile(graph, CompileOptions.Default);
            var expected = reference.Run([.. inputs.Select(t => t.Clone())]);
            var actual = gpu.Run([.. inputs.Select(t => t.Clone())]);
            double tol = dtype == DType.F32 ? 1e-4 : 2e-2;
            for (int o = 0; o < expected.Length; o++)
            {
                var (e, a) = (expected[o].ToFloat32(), actual[o].ToFloat32());
                Assert.Equal(expected[o].Shape, actual[o].Shape);
                for (int i = 0; i < e.Length; i++)
                {
                    Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{gpu.OutputNames[o]}[{i}]: {a[i]}, expected {e[i]}");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
