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
[Collection(EnvironmentSwitchCollection.Name)]
public class DecodeStepTests
{
    /// <summary>Every dtype and cache layout at a context of a few keys, contexts of 1 and several hundred keys, with the decode switches on and off.</summary>
    public static TheoryData<DType, bool, int, bool> Steps()
    {
        var data = new TheoryData<DType, bool, int, bool>();
        // A fixed-size cache of 5 rows at position 7: the new row lands nowhere, as the `where` it replaces leaves the cache.
        data.Add(DType.F16, true, -7, false);
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            foreach (bool fixedSize in new[] { false, true })
            {
                data.Add(dt, fixedSize, 4, false);
            }
        }

        foreach (bool fixedSize in new[] { false, true })
        {
            data.Add(DType.F16, fixedSize, 0, false);
            data.Add(DType.F16, fixedSize, 299, false);
            data.Add(DType.F16, fixedSize, 4, true);
            data.Add(DType.F16, fixedSize, 299, true);
        }

        return data;
    }

    /// <summary>
    /// One step at <paramref name="position"/> (a context of position + 1 keys; negative: at -position in a
    /// fixed-size cache of 5 rows, past its end); with <paramref name="switchesOff"/>,
    /// compiled with <see cref="GpuBackend.RopeRowsVariable"/> 0 and <see cref="GpuLowering.DecodeTwoPassVariable"/> 1
    /// (separate ropes and row copies, two-launch decode attention).
    /// </summary>
    [Theory]
    [MemberData(nameof(Steps))]
    public void DecodeStepMatchesTheReferenceInterpreter(DType dtype, bool fixedSize, int position, bool switchesOff)
    {
        string? rows = Environment.GetEnvironmentVariable(GpuBackend.RopeRowsVariable);
        string? twoPass = Environment.GetEnvironmentVariable(GpuLowering.DecodeTwoPassVariable);
        if (switchesOff)
        {
            Environment.SetEnvironmentVariable(GpuBackend.RopeRowsVariable, "0");
            Environment.SetEnvironmentVariable(GpuLowering.DecodeTwoPassVariable, "1");
        }

        try
        {
            Step(dtype, fixedSize, position);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuBackend.RopeRowsVariable, rows);
            Environment.SetEnvironmentVariable(GpuLowering.DecodeTwoPassVariable, twoPass);
        }
    }

    private static void Step(DType dtype, bool fixedSize, int position)
    {
        string dir = Path.Combine(Path.GetTempPath(), "candle-gpu-decode-" + Guid.NewGuid().ToString("N"));
        try
        {
            TinyModels.Write(dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(11).Without(".bias"));
            var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(dir, new ModelLoadOptions { DType = dtype }));
            // A negative position stands for that position in a cache of 5 rows (beyond its end).
            bool beyond = position < 0;
            position = Math.Abs(position);
            int rows = beyond ? 5 : position + 3;
            var graph = fixedSize ? model.TraceStaticDecode(rows) : model.TraceDecode();
            int cacheRows = fixedSize ? rows : position + 1;
            var rng = new Random(5);
            var inputs = new List<HostTensor> { HostTensor.FromArray([9L], 1, 1), HostTensor.FromArray([(long)position], 1, 1) };
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
            double tol = dtype switch { DType.F32 => 1e-4, DType.F16 => 2e-2, _ => 6e-2 };
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
