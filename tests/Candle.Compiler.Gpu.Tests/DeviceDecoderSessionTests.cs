using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// A <see cref="DecoderSession"/> over GPU steps (ILGPU's CPU accelerator) keeps its KV cache on the device: prefill
/// and greedy decode of a tiny random llama give the tokens, logits and cache entries of the CPU backend's session on
/// the same model; an out-of-range token raises; Reset, a second generation, batches of two and the prefill from any
/// position with kept entries work on the device.
/// </summary>
public sealed class DeviceDecoderSessionTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "candle-gpu-session-" + Guid.NewGuid().ToString("N"));
    private readonly CausalLanguageModel _model;

    public DeviceDecoderSessionTests()
    {
        TinyModels.Write(_dir, TinyModels.Config("llama"), TinyModels.LlamaWeights(23).Without(".bias"));
        _model = Assert.IsAssignableFrom<CausalLanguageModel>(ModelRegistry.Load(_dir, new ModelLoadOptions { DType = DType.F32 }));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Greedy_decoding_with_the_cache_on_the_device_matches_the_cpu_session()
    {
        using var cpu = DecoderSession.Compile(_model, CpuBackend.Instance);
        using var gpu = DecoderSession.Compile(_model, GpuBackends.IlgpuCpu);
        Assert.False(cpu.CacheOnDevice);
        Assert.True(gpu.CacheOnDevice);

        cpu.Reset(16);
        gpu.Reset(16);
        Assert.Null(gpu.Cache);
        var deviceCache = Assert.IsType<DeviceKvCache>(gpu.DeviceCache);
        Assert.False(deviceCache.Device.IsHost);
        Assert.Same(((Runtime.Execution.IDeviceExecutable)gpu.DecodePlan).Device, deviceCache.Device);

        var prompt = HostTensor.FromArray([1L, 7, 30, 4, 12], 1, 5);
        var expected = cpu.Prefill(prompt);
        var actual = gpu.Prefill(prompt);
        AssertClose(expected, actual, "prefill logits");
        Assert.Equal(5, gpu.Position);
        for (int step = 0; step < 5; step++)
        {
            int token = GreedyLogits.ArgMaxLast(expected);
            Assert.Equal(token, GreedyLogits.ArgMaxLast(actual));
            var ids = HostTensor.FromArray([(long)token], 1, 1);
            expected = cpu.Decode(ids);
            actual = gpu.Decode(ids);
            AssertClose(expected, actual, $"decode step {step} logits");
            Assert.Equal(cpu.Position, gpu.Position);
        }

        // The entries the steps left on the device are the CPU cache's.
        Assert.Same(deviceCache, gpu.DeviceCache);
        var host = deviceCache.ToHost();
        Assert.Equal(10, host.Length);
        for (int l = 0; l < _model.NumLayers; l++)
        {
            AssertClose(cpu.Cache!.Keys(l), host.Keys(l), $"keys of layer {l}");
            AssertClose(cpu.Cache.Values(l), host.Values(l), $"values of layer {l}");
        }
    }

    [Fact]
    public void An_out_of_range_token_raises_and_leaves_the_cache_as_it_was()
    {
        using var cpu = DecoderSession.Compile(_model, CpuBackend.Instance);
        using var gpu = DecoderSession.Compile(_model, GpuBackends.IlgpuCpu);
        gpu.Reset(8);
        var e = Assert.Throws<ArgumentException>(() => gpu.Prefill(HostTensor.FromArray([3L, TinyModels.Vocab], 1, 2)));
        Assert.Contains("index is out of range in", e.Message, StringComparison.Ordinal);
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, gpu.Position);

        cpu.Reset(8);
        var prompt = HostTensor.FromArray([3L, 9], 1, 2);
        var expected = cpu.Prefill(prompt);
        AssertClose(expected, gpu.Prefill(prompt), "prefill logits after a refused prompt");
        e = Assert.Throws<ArgumentException>(() => gpu.Decode(HostTensor.FromArray([-1L], 1, 1)));
        Assert.Contains("out of range", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, gpu.Position);

        // The refused step did not advance the cache: the next step is the CPU session's next step.
        var ids = HostTensor.FromArray([(long)GreedyLogits.ArgMaxLast(expected)], 1, 1);
        AssertClose(cpu.Decode(ids), gpu.Decode(ids), "decode logits after a refused token");
    }

    [Fact]
    public void The_text_generator_gives_the_cpu_tokens_on_the_device_across_two_generations()
    {
        using var cpu = new TextGenerator(DecoderSession.Compile(_model, CpuBackend.Instance));
        using var gpu = new TextGenerator(DecoderSession.Compile(_model, GpuBackends.IlgpuCpu));
        var options = new GenerationOptions { MaxNewTokens = 6, IgnoreEos = true };
        foreach (int[] prompt in new[] { new[] { 1, 5, 17, 40 }, new[] { 1, 22, 3 } })
        {
            var expected = cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            var actual = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
            Assert.Equal(6, actual.GeneratedIds.Count);
            Assert.Equal(0, actual.ReusedPromptTokens);
            Assert.Null(gpu.Session.Cache);
            Assert.Equal(prompt.Length + 5, gpu.Session.Position);
        }
    }

    [Fact]
    public void A_batch_of_two_decodes_on_the_device_as_on_the_cpu()
    {
        using var cpu = DecoderSession.Compile(_model, CpuBackend.Instance);
        using var gpu = DecoderSession.Compile(_model, GpuBackends.IlgpuCpu);
        cpu.Reset(8, batch: 2);
        gpu.Reset(8, batch: 2);
        Assert.Equal(2, gpu.DeviceCache!.Batch);
        var prompt = HostTensor.FromArray([1L, 8, 33, 1, 41, 6], 2, 3);
        var expected = cpu.Prefill(prompt);
        AssertClose(expected, gpu.Prefill(prompt), "batched prefill logits");
        var ids = HostTensor.FromArray([11L, 29], 2, 1);
        AssertClose(cpu.Decode(ids), gpu.Decode(ids), "batched decode logits");
        Assert.Throws<ArgumentException>(() => gpu.Decode(HostTensor.FromArray([11L], 1, 1)));
    }

    [Fact]
    public void Without_a_prefill_step_from_any_position_entries_are_not_kept_on_the_device()
    {
        using var gpu = DecoderSession.Compile(_model, GpuBackends.IlgpuCpu);
        Assert.False(gpu.CanPrefillFromAnyPosition);
        gpu.Reset(4);
        gpu.Prefill(HostTensor.FromArray([1L, 2, 3], 1, 3));
        var e = Assert.Throws<InvalidOperationException>(() => gpu.Keep(2, 8));
        Assert.Contains("prefill step from any position", e.Message, StringComparison.Ordinal);

        // Keeping nothing grows the device cache.
        gpu.Keep(0, 12);
        Assert.Equal(0, gpu.Position);
        Assert.Equal(12, gpu.DeviceCache!.Capacity);
        Assert.Throws<InvalidOperationException>(() => gpu.Prefill(HostTensor.FromArray(new long[13], 1, 13)));
    }

    [Fact]
    public void Chunked_prefill_and_kept_entries_continue_on_the_device_as_on_the_cpu()
    {
        var gpuBackend = GpuBackends.IlgpuCpu;
        using var cpu = DecoderSession.Compile(_model, CpuBackend.Instance);
        using var gpu = new DecoderSession(
            _model.Shape,
            gpuBackend.Compile(_model.TracePrefill(), CompileOptions.Default),
            gpuBackend.Compile(_model.TraceDecode(), CompileOptions.Default),
            gpuBackend.Compile(_model.TracePrefillChunk(), CompileOptions.Default));
        Assert.True(gpu.CacheOnDevice);
        cpu.PrefillChunkLength = gpu.PrefillChunkLength = 3;

        var prompt = HostTensor.FromArray([1L, 4, 9, 16, 25, 36, 2], 1, 7);
        cpu.Reset(8);
        gpu.Reset(8);
        AssertClose(cpu.Prefill(prompt), gpu.Prefill(prompt), "chunked prefill logits");

        // Keep the first four entries, grow the cache, and prefill a different continuation from there.
        cpu.Keep(4, 12);
        gpu.Keep(4, 12);
        Assert.Equal(4, gpu.Position);
        Assert.Equal(12, gpu.DeviceCache!.Capacity);
        var rest = HostTensor.FromArray([44L, 3, 19], 1, 3);
        var expected = cpu.Prefill(rest);
        AssertClose(expected, gpu.Prefill(rest), "prefill logits after kept entries");
        var ids = HostTensor.FromArray([(long)GreedyLogits.ArgMaxLast(expected)], 1, 1);
        AssertClose(cpu.Decode(ids), gpu.Decode(ids), "decode logits after kept entries");
        Assert.Equal(8, gpu.Position);
    }

    private static void AssertClose(HostTensor expected, HostTensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var (e, a) = (expected.ToFloat32(), actual.ToFloat32());
        for (int i = 0; i < e.Length; i++)
        {
            Assert.True(Math.Abs(e[i] - a[i]) <= Tolerance * Math.Max(1, Math.Abs(e[i])), $"{what}[{i}]: {a[i]}, expected {e[i]}");
        }
    }
}
