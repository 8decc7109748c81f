using Candle.Compiler.Backends;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models.Common;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// Greedy decoding with the KV cache on the device copies back only the chosen token: the steps compiled for the device
/// return <see cref="DecoderGraphNames.NextToken"/> (the CPU session's do not), the tokens they choose are the CPU
/// session's greedy tokens (a prompt prefilled in chunks, batches of one and two, the text generator), only 8 bytes a
/// row come back, sampling and a repetition penalty still read the logits and give the CPU session's tokens, and steps
/// without the token output (plans compiled or saved before it) still generate, through the logits.
/// </summary>
public abstract class DeviceGreedyTokenTestsBase(TinyLlamaSessions sessions)
{
    [Fact]
    public void Steps_compiled_for_the_device_return_the_greedy_token_and_host_steps_do_not()
    {
        var (cpu, gpu) = sessions.Sessions();
        Assert.True(gpu.ChoosesTokenOnDevice);
        Assert.False(cpu.ChoosesTokenOnDevice);
        foreach (var plan in new[] { cpu.PrefillPlan, cpu.DecodePlan, cpu.PrefillChunkPlan! })
        {
            Assert.DoesNotContain(DecoderGraphNames.NextToken, plan.OutputNames);
        }

        foreach (var plan in new[] { gpu.PrefillPlan, gpu.DecodePlan, gpu.PrefillChunkPlan! })
        {
            Assert.Contains(DecoderGraphNames.NextToken, plan.OutputNames);
            Assert.Contains(Assert.IsType<GpuExecutable>(plan).Kernels.Calls.OfType<ReduceCall>(), c => c.Op == Ir.Op.ArgMax);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Greedy_tokens_chosen_on_the_device_are_the_cpu_sessions_and_only_they_come_back(int batch)
    {
        // Chunks of 4: the 10-position prompt runs in three chunks from the prefill step from any position.
        var (cpu, gpu) = sessions.Sessions(chunk: 4);
        cpu.Reset(16, batch);
        gpu.Reset(16, batch);
        long[] prompt = [1, 4, 9, 16, 25, 36, 2, 11, 47, 0, 13, 8, 30, 21, 3, 5, 7, 19, 44, 6];
        var ids = HostTensor.FromArray(prompt[..(10 * batch)], batch, 10);
        var fed = new List<HostTensor> { ids };
        long before = gpu.BytesCopiedToHost;
        var chosen = gpu.PrefillGreedy(ids);
        AssertCpuChoice(cpu.Prefill(ids), chosen);
        for (int step = 0; step < 5; step++)
        {
            ids = HostTensor.FromArray(chosen, batch, 1);
            fed.Add(ids);
            chosen = gpu.DecodeGreedy(ids);
            AssertCpuChoice(cpu.Decode(ids), chosen);
        }

        Assert.Equal(15, gpu.Position);
        Assert.Equal(6L * batch * sizeof(long), gpu.BytesCopiedToHost - before);

        // The same steps through the logits: the host sampler's choice from the device's own logits is the device's.
        gpu.Reset(16, batch);
        for (int step = 0; step < fed.Count; step++)
        {
            var logits = step == 0 ? gpu.Prefill(fed[0]) : gpu.Decode(fed[step]);
            var expected = step + 1 < fed.Count ? fed[step + 1].AsSpan<long>().ToArray() : chosen;
            Assert.Equal(expected, HostArgMax(logits));
        }
    }

    [Fact]
    public void The_text_generator_copies_back_only_the_greedy_tokens_and_gives_the_cpu_tokens()
    {
        var (cpuSession, gpuSession) = sessions.Sessions(chunk: 4);
        var cpu = new TextGenerator(cpuSession);
        var gpu = new TextGenerator(gpuSession);
        int[] prompt = [1, 5, 17, 40, 2, 9, 33, 12, 8, 27];
        var options = new GenerationOptions { MaxNewTokens = 8, IgnoreEos = true };
        var expected = cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);

        long before = gpuSession.BytesCopiedToHost;
        var actual = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        if (MatchesCpuExactly) Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
        Assert.Equal(7, actual.DecodeSteps);
        Assert.Equal((1 + actual.DecodeSteps) * sizeof(long), gpuSession.BytesCopiedToHost - before);

        // The same generation through the logits (the switch off) copies a row of logits a step and gives the same tokens.
        gpuSession.GreedyOnDevice = false;
        try
        {
            Assert.False(gpuSession.ChoosesTokenOnDevice);
            before = gpuSession.BytesCopiedToHost;
            var viaLogits = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(actual.GeneratedIds, viaLogits.GeneratedIds);
            Assert.Equal((1 + viaLogits.DecodeSteps) * LogitsRowBytes(gpuSession), gpuSession.BytesCopiedToHost - before);
        }
        finally
        {
            gpuSession.GreedyOnDevice = true;
        }
    }

    /// <summary>
    /// Whether the device session's logits are the CPU session's closely enough for their greedy tokens to be equal
    /// (float32); otherwise (float16 rounding) the device's choice need only be within <see cref="HalfTolerance"/> of the
    /// CPU logits' maximum.
    /// </summary>
    protected virtual bool MatchesCpuExactly => true;

    private const double HalfTolerance = 0.02;

    // The device's choice of each row is the CPU session's greedy choice (or, in float16, a logit within tolerance of
    // the CPU row's maximum).
    private void AssertCpuChoice(HostTensor cpuLogits, long[] chosen)
    {
        var expected = HostArgMax(cpuLogits);
        if (MatchesCpuExactly)
        {
            Assert.Equal(expected, chosen);
            return;
        }

        int vocab = cpuLogits.Shape[^1];
        var v = cpuLogits.ToFloat32();
        for (int b = 0; b < chosen.Length; b++)
        {
            double max = v[(b * vocab) + (int)expected[b]], got = v[(b * vocab) + (int)chosen[b]];
            Assert.True(got >= max - HalfTolerance, $"row {b}: token {chosen[b]} has logit {got}, the CPU's maximum is {max} (token {expected[b]})");
        }
    }

    [Theory]
    [InlineData(false, 1.0)]
    [InlineData(true, 1.3)]
    public void Sampling_or_a_repetition_penalty_reads_the_logits_and_gives_the_cpu_tokens(bool greedy, double penalty)
    {
        var (cpuSession, gpuSession) = sessions.Sessions(chunk: 4);
        var cpu = new TextGenerator(cpuSession);
        var gpu = new TextGenerator(gpuSession);
        int[] prompt = [1, 5, 17, 40, 2, 9];
        var options = new GenerationOptions { MaxNewTokens = 8, IgnoreEos = true, Greedy = greedy, Temperature = 0.8, TopK = 12, TopP = 0.95, RepetitionPenalty = penalty, Seed = 11 };
        var expected = cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        long before = gpuSession.BytesCopiedToHost;
        var actual = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        if (MatchesCpuExactly) Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
        Assert.Equal(8, actual.GeneratedIds.Count);
        Assert.Equal((1 + actual.DecodeSteps) * LogitsRowBytes(gpuSession), gpuSession.BytesCopiedToHost - before);
    }

    [Fact]
    public void Steps_without_the_token_output_still_generate_through_the_logits()
    {
        // Steps traced as before the token output existed (as a plan saved then would be).
        var backend = GpuBackends.IlgpuCpu;
        var model = sessions.Model;
        using var old = new DecoderSession(
            model.Shape,
            backend.Compile(model.TracePrefill(), CompileOptions.Default),
            backend.Compile(model.TraceDecode(), CompileOptions.Default),
            backend.Compile(model.TracePrefillChunk(), CompileOptions.Default));
        Assert.True(old.CacheOnDevice);
        Assert.True(old.GreedyOnDevice);
        Assert.False(old.ChoosesTokenOnDevice);
        old.PrefillChunkLength = 4;

        var cpu = new TextGenerator(sessions.Sessions(chunk: 4).Cpu);
        var gpu = new TextGenerator(old);
        int[] prompt = [1, 5, 17, 40, 2, 9, 33, 12, 8, 27];
        var options = new GenerationOptions { MaxNewTokens = 6, IgnoreEos = true };
        var expected = cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        var actual = gpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken);
        if (MatchesCpuExactly) Assert.Equal(expected.GeneratedIds, actual.GeneratedIds);
        Assert.Equal((1 + actual.DecodeSteps) * LogitsRowBytes(old), old.BytesCopiedToHost);

        // The token path of the current steps gives the same tokens.
        Assert.Equal(actual.GeneratedIds, new TextGenerator(sessions.Sessions(chunk: 4).Gpu).Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken).GeneratedIds);

        // The greedy steps choose on the host from the logits there.
        old.Reset(16);
        var ids = HostTensor.FromArray([.. prompt.Select(t => (long)t)], 1, prompt.Length);
        Assert.Equal([actual.GeneratedIds[0]], old.PrefillGreedy(ids).Select(t => (int)t));
    }

    [Fact]
    public void A_saved_compiled_model_without_the_token_output_loads_and_generates()
    {
        string dir = Path.Combine(Path.GetTempPath(), "candle-greedy-saved-" + Guid.NewGuid().ToString("N"));
        try
        {
            CompiledLanguageModel.Save(sessions.Directory, dir, loadOptions: new Transformers.Models.ModelLoadOptions { DType = sessions.Model.DType });
            using var loaded = CompiledLanguageModel.Load(dir);
            Assert.DoesNotContain(DecoderGraphNames.NextToken, loaded.Session.DecodePlan.OutputNames);
            Assert.False(loaded.Session.ChoosesTokenOnDevice);
            // The saved plans are the CPU backend's: the CPU session's tokens.
            var cpu = new TextGenerator(sessions.Sessions().Cpu);
            int[] prompt = [1, 5, 17, 40];
            var options = new GenerationOptions { MaxNewTokens = 5, IgnoreEos = true };
            Assert.Equal(
                cpu.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken).GeneratedIds,
                loaded.Generate(prompt, options, cancellationToken: TestContext.Current.CancellationToken).GeneratedIds);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    // The host sampler's greedy choice of each row of logits [batch, 1, vocab].
    private static long[] HostArgMax(HostTensor logits)
    {
        int batch = logits.Shape[0], vocab = logits.Shape[^1];
        var v = logits.ToFloat32();
        return [.. Enumerable.Range(0, batch).Select(b => (long)Sampler.ArgMax([.. v.AsSpan(b * vocab, vocab).ToArray().Select(x => (double)x)]))];
    }

    // The bytes of one row of the device session's logits on the host.
    private static long LogitsRowBytes(DecoderSession gpu)
    {
        var dtype = Assert.IsType<GpuExecutable>(gpu.DecodePlan).Kernels.Outputs.Single(o => o.Name == DecoderGraphNames.Logits).DType;
        return (long)gpu.Shape.VocabSize * dtype.SizeInBytes();
    }
}

/// <summary>The greedy device token of <see cref="DeviceGreedyTokenTestsBase"/> on the float32 tiny llama.</summary>
public sealed class DeviceGreedyTokenTests(TinyLlamaSessions sessions) : DeviceGreedyTokenTestsBase(sessions), IClassFixture<TinyLlamaSessions>;

/// <summary>The greedy device token of <see cref="DeviceGreedyTokenTestsBase"/> on the float16 tiny llama.</summary>
public sealed class DeviceGreedyTokenF16Tests(TinyLlamaF16Sessions sessions) : DeviceGreedyTokenTestsBase(sessions), IClassFixture<TinyLlamaF16Sessions>
{
    /// <inheritdoc/>
    protected override bool MatchesCpuExactly => false;
}
