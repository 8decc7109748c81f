using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// The calls per decoder layer of the GPU decode plans of the llama fixture (two layers, loaded as float16 like the
/// measured decode), compiled for ILGPU's CPU accelerator: one layer is the calls from the first layer's attention up
/// to the second's. Both the growing-cache step and the fixed-size-cache step (the CUDA graph path) are counted, and the
/// fixed-size step of the Q4_0 GGUF llama.
/// </summary>
[Collection(EnvironmentSwitchCollection.Name)]
public class DecodePlanTests
{
    [Fact]
    public void GrowingCacheDecodeHasAtMostElevenCallsPerLayerWithTheRopesAndCacheRowsInOneCall()
    {
        var layer = LayerCalls(static m => m.TraceDecode());
        // Per layer: 2 norms (one with the residual add), 4 products, one call for both ropes with the rotated key
        // row written into the cache and the value row copied there, the attention, 1 elementwise (SwiGLU), 2 host-side
        // range checks of the cache writes.
        Assert.True(layer.Count <= 11, Describe(layer));
        Assert.Equal(9, layer.Count(k => !k.StartsWith("CheckRange", StringComparison.Ordinal)));
        Assert.Single(layer, k => k.StartsWith("RopeRows", StringComparison.Ordinal));
        Assert.DoesNotContain(layer, k => k.StartsWith("Copy", StringComparison.Ordinal) || k.StartsWith("Rope:", StringComparison.Ordinal));
        Assert.Equal(4, layer.Count(k => k.StartsWith("BatchedMatMul", StringComparison.Ordinal)));
    }

    [Fact]
    public void GrowingCacheDecodeKeepsSeparateRopesAndCopiesWithTheSwitchOff()
    {
        string? before = Environment.GetEnvironmentVariable(GpuBackend.RopeRowsVariable);
        Environment.SetEnvironmentVariable(GpuBackend.RopeRowsVariable, "0");
        try
        {
            var layer = LayerCalls(static m => m.TraceDecode());
            Assert.Equal(2, layer.Count(k => k.StartsWith("Rope:", StringComparison.Ordinal)));
            Assert.Equal(2, layer.Count(k => k.StartsWith("Copy", StringComparison.Ordinal)));
            Assert.DoesNotContain(layer, k => k.StartsWith("RopeRows", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuBackend.RopeRowsVariable, before);
        }
    }

    [Fact]
    public void FixedSizeCacheDecodeHasAtMostNineCallsPerLayerAndNoCopiesOrWheres()
    {
        // Per layer: 2 norms, 4 products, both ropes with the new key and value rows written at the position in one
        // call, the attention, SwiGLU.
        var layer = LayerCalls(static m => m.TraceStaticDecode(32));
        Assert.True(layer.Count <= 9, Describe(layer));
        Assert.DoesNotContain(layer, k => k.Contains("where", StringComparison.Ordinal) && !k.StartsWith("RopeRows", StringComparison.Ordinal));
        Assert.Single(layer, k => k.StartsWith("RopeRows", StringComparison.Ordinal));
        Assert.DoesNotContain(layer, k => k.StartsWith("Copy", StringComparison.Ordinal));
        Assert.Equal(4, layer.Count(k => k.StartsWith("BatchedMatMul", StringComparison.Ordinal)));
    }

    [Fact]
    public void QuantizedFixedSizeCacheDecodeHasAtMostNineCallsPerLayerWithMergedQuantizedProducts()
    {
        // The Q4_0 GGUF llama: q/k/v and gate/up merged over their blocks, so one layer is the float one's calls.
        var layer = LayerCalls(static m => m.TraceStaticDecode(32), Path.Combine(Fixtures.Dir, "gguf", "llama-q4_0.gguf"), null);
        Assert.True(layer.Count <= 9, Describe(layer));
        Assert.Equal(4, layer.Count(k => k.StartsWith("QuantMatMul", StringComparison.Ordinal)));
        Assert.DoesNotContain(layer, k => k.Contains("MatMul", StringComparison.Ordinal) && !k.StartsWith("QuantMatMul", StringComparison.Ordinal));
    }

    private static string Describe(List<string> layer) => $"{layer.Count} calls per layer: {string.Join("; ", layer)}";

    private static List<string> LayerCalls(Func<CausalLanguageModel, Ir.Graph> trace) =>
        LayerCalls(trace, Fixtures.Model("llama"), new ModelLoadOptions { DType = DType.F16 });

    private static List<string> LayerCalls(Func<CausalLanguageModel, Ir.Graph> trace, string path, ModelLoadOptions? options)
    {
        var model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(path, options));
        Assert.Equal(2, model.NumLayers);
        using var plan = (GpuExecutable)GpuBackends.IlgpuCpu.Compile(trace(model), CompileOptions.Default);
        var calls = plan.ListCalls().Split(Environment.NewLine).ToList();
        var attention = calls.Select((c, i) => (c, i)).Where(x => x.c.StartsWith("Attention", StringComparison.Ordinal)).Select(x => x.i).ToList();
        Assert.Equal(2, attention.Count);
        return calls[attention[0]..attention[1]];
    }
}
