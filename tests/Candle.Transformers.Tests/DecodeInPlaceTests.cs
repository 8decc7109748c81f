using Candle.Compiler.Backends.Cpu;
using Candle.Runtime.Plans;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

/// <summary>
/// The compiled decode step writes the new keys and values into the preallocated cache in place: no step copies the
/// past, the updated cache rows are the cache's own memory, and the arena is laid out once for every cache length.
/// </summary>
public class DecodeInPlaceTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    [Fact]
    public void No_decode_step_copies_the_past_keys_or_values()
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        using var session = DecoderSession.Compile(model, CpuBackend.Instance);
        var plan = Assert.IsType<Plan>(session.DecodePlan);
        var def = plan.Definition;
        Assert.Contains(DecoderGraphNames.KvSymbol, plan.Symbols);

        // Two cache lengths: a step whose work grows with the cache length would touch the past.
        var short_ = new Dictionary<string, long> { [DecoderGraphNames.KvSymbol] = 5, [DecoderGraphNames.BatchSymbol] = 1 };
        var long_ = new Dictionary<string, long> { [DecoderGraphNames.KvSymbol] = 500, [DecoderGraphNames.BatchSymbol] = 1 };
        long rowElements = model.NumKvHeads * model.HeadDim;
        int cacheWrites = 0;
        foreach (var step in def.Steps)
        {
            if (step.Kernel == "rt:copy")
            {
                Assert.Equal(step.Work.Evaluate(short_), step.Work.Evaluate(long_));
                if (step.Label.Contains("slice_scatter", StringComparison.Ordinal))
                {
                    cacheWrites++;
                    Assert.Equal(rowElements, step.Work.Evaluate(long_));
                }
            }
            else if (step.Kernel is not ("rt:flash_attention" or "rt:check_range"))
            {
                // Only attention reads the cache; nothing else may scale with its length.
                Assert.Equal(step.Work.Evaluate(short_) * step.CostPerItem.Evaluate(short_), step.Work.Evaluate(long_) * step.CostPerItem.Evaluate(long_));
            }
        }

        Assert.Equal(2 * model.NumLayers, cacheWrites);

        // Every present_* output is the cache input's own buffer.
        for (int l = 0; l < model.NumLayers; l++)
        {
            foreach (var (present, cache) in new[] { (DecoderGraphNames.PresentKeys(l), DecoderGraphNames.CacheKeys(l)), (DecoderGraphNames.PresentValues(l), DecoderGraphNames.CacheValues(l)) })
            {
                var output = def.Outputs.Single(o => o.Name == present);
                var input = def.Inputs.Single(i => i.Name == cache);
                Assert.Equal(input.Buffer, output.Buffer);
                Assert.Equal(BufferKind.Input, def.Buffers[output.Buffer].Kind);
            }
        }
    }

    [Fact]
    public void Prefill_writes_the_prompt_keys_and_values_straight_into_the_cache()
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        using var session = DecoderSession.Compile(model, CpuBackend.Instance);
        var plan = Assert.IsType<Plan>(session.PrefillPlan);
        var ids = HostTensor.FromArray([.. Llama.PromptIds.Select(i => (long)i)], 1, Llama.PromptIds.Length);

        // The plan run on its own, with every output allocated, is the oracle for what the cache must hold.
        var plain = plan.Run([ids]);
        session.Reset(Llama.PromptIds.Length + 4);
        var logits = session.Prefill(ids);
        var cache = session.Cache!;
        Assert.Equal(Llama.PromptIds.Length, cache.Length);
        for (int l = 0; l < model.NumLayers; l++)
        {
            int k = plan.OutputNames.ToList().IndexOf(DecoderGraphNames.NewKeys(l));
            int v = plan.OutputNames.ToList().IndexOf(DecoderGraphNames.NewValues(l));
            Assert.Equal(plain[k].ToFloat32(), cache.Keys(l).ToFloat32());
            Assert.Equal(plain[v].ToFloat32(), cache.Values(l).ToFloat32());
        }

        int logitsIndex = plan.OutputNames.ToList().IndexOf(DecoderGraphNames.Logits);
        Assert.Equal(plain[logitsIndex].ToFloat32(), logits.ToFloat32());
    }

    [Fact]
    public void Decode_writes_the_new_entries_into_the_cache_memory_and_plans_the_arena_once()
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        using var session = DecoderSession.Compile(model, CpuBackend.Instance);
        var plan = Assert.IsType<Plan>(session.DecodePlan);
        session.Reset(Llama.PromptIds.Length + 6);
        session.Prefill(HostTensor.FromArray([.. Llama.PromptIds.Select(i => (long)i)], 1, Llama.PromptIds.Length));
        var cache = session.Cache!;
        for (int t = 0; t < 5; t++)
        {
            int before = cache.Length;
            var keysBefore = cache.KeyRows(0, 1).ToFloat32()[..(before * model.NumKvHeads * model.HeadDim)];
            session.Decode(HostTensor.FromArray([(long)Llama.GreedyContinuation[t]], 1, 1));
            Assert.Equal(before + 1, cache.Length);

            // The past rows are untouched and the new row is filled (keys after rope are not all zero).
            var keysAfter = cache.Keys(0).ToFloat32();
            Assert.Equal(keysBefore, keysAfter[..keysBefore.Length]);
            Assert.Contains(keysAfter[keysBefore.Length..], x => x != 0);
        }

        Assert.Equal(1, plan.ArenaLayoutsComputed);
    }

    [Fact]
    public void The_reference_backend_fills_the_cache_through_the_copy_of_the_new_rows()
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir);
        using var cpu = DecoderSession.Compile(model, CpuBackend.Instance);
        using var reference = DecoderSession.Compile(model, Compiler.Backends.Reference.ReferenceBackend.Instance);
        var prompt = HostTensor.FromArray([.. Llama.PromptIds.Select(i => (long)i)], 1, Llama.PromptIds.Length);
        foreach (var s in new[] { cpu, reference })
        {
            s.Reset(Llama.PromptIds.Length + 3);
            s.Prefill(prompt);
            for (int t = 0; t < 3; t++) s.Decode(HostTensor.FromArray([(long)Llama.GreedyContinuation[t]], 1, 1));
        }

        for (int l = 0; l < model.NumLayers; l++)
        {
            var a = cpu.Cache!.Values(l).ToFloat32();
            var b = reference.Cache!.Values(l).ToFloat32();
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4, $"layer {l} value {i}: cpu {a[i]} vs reference {b[i]}");
        }
    }

    [Fact]
    public void The_whisper_decoder_step_writes_its_cache_in_place_too()
    {
        var model = (Models.Whisper.WhisperForConditionalGeneration)ModelRegistry.Load(Candle.Tests.Fixtures.Model("whisper"));
        using var plan = Compiler.CandleCompiler.Compile(model.TraceDecoderStep());
        var at = (long kv) => new Dictionary<string, long> { [DecoderGraphNames.KvSymbol] = kv, [DecoderGraphNames.BatchSymbol] = 1, ["seq"] = 1 };
        int cacheWrites = 0;
        foreach (var step in plan.Definition.Steps.Where(s => s.Kernel == "rt:copy"))
        {
            Assert.Equal(step.Work.Evaluate(at(3)), step.Work.Evaluate(at(300)));
            if (step.Label.Contains("slice_scatter", StringComparison.Ordinal)) cacheWrites++;
        }

        Assert.Equal(2 * model.Settings.DecoderLayers, cacheWrites);
        foreach (var output in plan.Definition.Outputs.Where(o => o.Name.StartsWith("present_", StringComparison.Ordinal)))
        {
            Assert.Equal(BufferKind.Input, plan.Definition.Buffers[output.Buffer].Kind);
        }
    }
}
