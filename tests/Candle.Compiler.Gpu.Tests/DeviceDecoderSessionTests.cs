using Candle.Compiler.Backends;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Tests;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// A <see cref="DecoderSession"/> over GPU steps (ILGPU's CPU accelerator) keeps its KV cache on the device: prefill
/// and greedy decode of a tiny random llama give the tokens, logits and cache entries of the CPU backend's session on
/// the same model; an out-of-range token raises; Reset, a second generation and batches of two work on the device; the
/// prefill from any position, compiled for the GPU as for the CPU, runs long prompts in chunks, continues from kept
/// entries and lets the text generator reuse a prompt's prefix, writing its entries into the device cache in place.
/// </summary>
public sealed class DeviceDecoderSessionTests(TinyLlamaSessions sessions) : IClassFixture<TinyLlamaSessions>
{
    private const double Tolerance = 1e-4;

    [Fact]
    public void Greedy_decoding_with_the_cache_on_the_device_matches_the_cpu_session()
    {
        var (cpu, gpu) = sessions.Sessions();
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
        Assert.Equal(10, deviceCache.Length);
        AssertSameCache(cpu, gpu);
    }

    [Fact]
    public void An_out_of_range_token_raises_and_leaves_the_cache_as_it_was()
    {
        var (cpu, gpu) = sessions.Sessions();
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
        var (cpuSession, gpuSession) = sessions.Sessions();

        // The generators do not own the fixture's sessions, so they are not disposed.
        var cpu = new TextGenerator(cpuSession);
        var gpu = new TextGenerator(gpuSession);
        var options = new GenerationOptions { MaxNewTokens = 6, IgnoreEos = true };

        // The second prompt shares its first token with the tokens the first generation left in the cache.
        foreach (var (prompt, reused) in new[] { (new[] { 1, 5, 17, 40 }, 0), (new[] { 1, 22, 3 }, 1) })
        {
            var expected = cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            var actual = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
            Assert.Equal(6, actual.GeneratedIds.Count);
            Assert.Equal(reused, expected.ReusedPromptTokens);
            Assert.Equal(reused, actual.ReusedPromptTokens);
            Assert.Null(gpu.Session.Cache);
            Assert.Equal(prompt.Length + 5, gpu.Session.Position);
        }
    }

    [Fact]
    public void A_batch_of_two_prefills_and_decodes_on_the_device_as_on_the_cpu()
    {
        var (cpu, gpu) = sessions.Sessions();
        cpu.Reset(8, batch: 2);
        gpu.Reset(8, batch: 2);
        Assert.Equal(2, gpu.DeviceCache!.Batch);
        var prompt = HostTensor.FromArray([1L, 8, 33, 1, 41, 6], 2, 3);
        var expected = cpu.Prefill(prompt);
        AssertClose(expected, gpu.Prefill(prompt), "batched prefill logits");
        var ids = HostTensor.FromArray([11L, 29], 2, 1);
        AssertClose(cpu.Decode(ids), gpu.Decode(ids), "batched decode logits");
        Assert.Throws<ArgumentException>(() => gpu.Decode(HostTensor.FromArray([11L], 1, 1)));
        AssertSameCache(cpu, gpu);

        // In chunks of two positions (each row's positions follow its own cached ones), then kept entries of both rows.
        (cpu, gpu) = sessions.Sessions(chunk: 2);
        cpu.Reset(8, batch: 2);
        gpu.Reset(8, batch: 2);
        AssertClose(cpu.Prefill(prompt), gpu.Prefill(prompt), "batched chunked prefill logits");
        cpu.Keep(1, 8);
        gpu.Keep(1, 8);
        var rest = HostTensor.FromArray([5L, 17, 30, 2, 44, 9], 2, 3);
        AssertClose(cpu.Prefill(rest), gpu.Prefill(rest), "batched prefill logits after a kept entry");
        Assert.Equal(4, gpu.Position);
        AssertSameCache(cpu, gpu);
    }

    [Fact]
    public void Without_a_prefill_step_from_any_position_entries_are_not_kept_on_the_device()
    {
        var backend = GpuBackends.IlgpuCpu;
        using var gpu = new DecoderSession(
            sessions.Model.Shape,
            backend.Compile(sessions.Model.TracePrefill(), CompileOptions.Default),
            backend.Compile(sessions.Model.TraceDecode(), CompileOptions.Default));
        Assert.True(gpu.CacheOnDevice);
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
    public void The_gpu_session_has_a_prefill_step_from_any_position_that_writes_into_the_lent_cache_rows()
    {
        var gpu = sessions.Gpu;
        Assert.True(gpu.CanPrefillFromAnyPosition);
        Assert.True(gpu.CacheOnDevice);

        // Like the decode step, the step returns the donated cache rows themselves as its present rows: the session
        // lends it views of the device cache, so the new entries land there and nothing is copied after the step.
        foreach (var (plan, what) in new[] { (gpu.PrefillChunkPlan, "prefill chunk"), (gpu.DecodePlan, "decode") })
        {
            var kernels = Assert.IsType<GpuExecutable>(plan).Kernels;
            for (int l = 0; l < sessions.Model.NumLayers; l++)
            {
                foreach (var (input, output) in new[] { (DecoderGraphNames.CacheKeys(l), DecoderGraphNames.PresentKeys(l)), (DecoderGraphNames.CacheValues(l), DecoderGraphNames.PresentValues(l)) })
                {
                    int buffer = kernels.Inputs.Single(i => i.Name == input).Buffer;
                    Assert.True(kernels.Outputs.Single(o => o.Name == output).Buffer == buffer, $"{what}: {output} is not written into {input}");
                }
            }
        }
    }

    [Fact]
    public void A_prompt_longer_than_the_chunk_length_is_prefilled_in_chunks_on_the_device_as_on_the_cpu()
    {
        // Chunks of 6, 6 and 2 positions: the second attends with more than 4 query rows (the tiled attention kernel)
        // to the cached rows before it, the last with fewer.
        var (cpu, gpu) = sessions.Sessions(chunk: 6);
        var prompt = HostTensor.FromArray([1L, 4, 9, 16, 25, 36, 2, 11, 47, 0, 13, 8, 30, 21], 1, 14);
        cpu.Reset(16);
        gpu.Reset(16);
        var expected = cpu.Prefill(prompt);
        var actual = gpu.Prefill(prompt);
        AssertClose(expected, actual, "chunked prefill logits");
        Assert.Equal(14, gpu.Position);
        AssertSameCache(cpu, gpu);

        // The chunks on the device give the logits of the CPU session's prefill in one step from position 0.
        cpu.PrefillChunkLength = DecoderSession.DefaultPrefillChunkLength;
        cpu.Reset(16);
        AssertClose(cpu.Prefill(prompt), actual, "chunked prefill logits against the one-step prefill");
        AssertSameCache(cpu, gpu);

        var ids = HostTensor.FromArray([(long)GreedyLogits.ArgMaxLast(expected)], 1, 1);
        AssertClose(cpu.Decode(ids), gpu.Decode(ids), "decode logits after a chunked prefill");
        Assert.Equal(15, gpu.Position);
    }

    [Fact]
    public void Kept_entries_continue_on_the_device_as_on_the_cpu()
    {
        var (cpu, gpu) = sessions.Sessions(chunk: 3);
        var prompt = HostTensor.FromArray([1L, 4, 9, 16, 25, 36, 2], 1, 7);
        cpu.Reset(8);
        gpu.Reset(8);
        AssertClose(cpu.Prefill(prompt), gpu.Prefill(prompt), "chunked prefill logits");

        // Keep the first four entries, grow the cache (the tests share it: it may be larger than this one sized it), and
        // prefill a different continuation from there.
        int capacity = gpu.DeviceCache!.Capacity + 4;
        cpu.Keep(4, capacity);
        gpu.Keep(4, capacity);
        Assert.Equal(4, gpu.Position);
        Assert.Equal(capacity, gpu.DeviceCache!.Capacity);
        var rest = HostTensor.FromArray([44L, 3, 19], 1, 3);
        var expected = cpu.Prefill(rest);
        AssertClose(expected, gpu.Prefill(rest), "prefill logits after kept entries");
        var ids = HostTensor.FromArray([(long)GreedyLogits.ArgMaxLast(expected)], 1, 1);
        AssertClose(cpu.Decode(ids), gpu.Decode(ids), "decode logits after kept entries");
        Assert.Equal(8, gpu.Position);
        AssertSameCache(cpu, gpu);

        // Keeping within the capacity reuses the device cache.
        var grown = gpu.DeviceCache;
        cpu.Keep(2, capacity);
        gpu.Keep(2, capacity);
        Assert.Same(grown, gpu.DeviceCache);
        var other = HostTensor.FromArray([5L, 6, 7, 8, 9], 1, 5);
        AssertClose(cpu.Prefill(other), gpu.Prefill(other), "prefill logits after keeping two entries");
        Assert.Equal(7, gpu.Position);
        AssertSameCache(cpu, gpu);
    }

    [Fact]
    public void A_second_turn_reuses_the_prompt_prefix_on_the_device_and_gives_the_cpu_tokens()
    {
        var (cpuSession, gpuSession) = sessions.Sessions(chunk: 4);
        var cpu = new TextGenerator(cpuSession);
        var gpu = new TextGenerator(gpuSession);
        var options = new GenerationOptions { MaxNewTokens = 4, IgnoreEos = true };
        int[] prompt = [1, 5, 17, 40, 2, 9];
        var expected = cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        var actual = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
        Assert.Equal(0, actual.ReusedPromptTokens);

        // The conversation goes on: the whole last output, then new tokens. The last generated token was never fed
        // back, so the entries of the prompt and the first three generated tokens are kept; the rest (six tokens, two
        // chunks) is prefilled from there into a cache grown on the device.
        int[] next = [.. actual.Ids, 30, 8, 21, 3, 11];
        expected = cpu.Generate(next, options with { MaxNewTokens = 6 }, cancellationToken: TestContext.Current.CancellationToken);
        actual = gpu.Generate(next, options with { MaxNewTokens = 6 }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(prompt.Length + 3, expected.ReusedPromptTokens);
        Assert.Equal(prompt.Length + 3, actual.ReusedPromptTokens);
        Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
        Assert.Equal(next.Length + 5, gpu.Session.Position);
        AssertSameCache(cpuSession, gpuSession);
    }

    [Fact]
    public void An_out_of_range_token_in_a_later_chunk_is_refused_after_the_chunks_before_it()
    {
        var (cpu, gpu) = sessions.Sessions(chunk: 3);
        gpu.Reset(16);
        var e = Assert.Throws<ArgumentException>(() => gpu.Prefill(HostTensor.FromArray([1L, 2, 3, 4, TinyModels.Vocab, 6], 1, 6)));
        Assert.Contains("index is out of range in", e.Message, StringComparison.Ordinal);
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, gpu.Position);

        // After kept entries, the refused chunk leaves the cache at the kept position.
        gpu.Keep(2, 16);
        e = Assert.Throws<ArgumentException>(() => gpu.Prefill(HostTensor.FromArray([-4L], 1, 1)));
        Assert.Contains("index_select", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, gpu.Position);

        // The session goes on from the two kept entries as the CPU session prefilling the whole prompt.
        cpu.Reset(16);
        var expected = cpu.Prefill(HostTensor.FromArray([1L, 2, 4, 5, 6], 1, 5));
        AssertClose(expected, gpu.Prefill(HostTensor.FromArray([4L, 5, 6], 1, 3)), "prefill logits after refused chunks");
        Assert.Equal(5, gpu.Position);
        AssertSameCache(cpu, gpu);
    }

    // The device cache's entries are the CPU cache's, layer by layer.
    private void AssertSameCache(DecoderSession cpu, DecoderSession gpu)
    {
        var host = gpu.DeviceCache!.ToHost();
        Assert.Equal(cpu.Position, host.Length);
        for (int l = 0; l < sessions.Model.NumLayers; l++)
        {
            AssertClose(cpu.Cache!.Keys(l), host.Keys(l), $"keys of layer {l}");
            AssertClose(cpu.Cache.Values(l), host.Values(l), $"values of layer {l}");
        }
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
