using Candle.Compiler.Backends.Reference;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

public class GenerationTests
{
    private static readonly Reference Llama = Reference.Load("llama");
    private static readonly Lazy<TextGenerator> Generator = new(() => TextGenerator.Load(Llama.Dir, "reference"));

    [Fact]
    public void A_stop_token_ends_generation_and_is_included()
    {
        int stop = Llama.GreedyContinuation[3];
        int first = Array.IndexOf(Llama.GreedyContinuation, stop);
        var result = Generator.Value.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 16, StopTokens = [stop] });
        Assert.Equal(Llama.GreedyContinuation[..(first + 1)], result.GeneratedIds);
        Assert.Equal(FinishReason.Stop, result.FinishReason);
    }

    [Fact]
    public void Streaming_callback_sees_every_token_in_order_and_the_pieces_make_the_text()
    {
        var streamed = new List<GeneratedToken>();
        var result = Generator.Value.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 8 }, streamed.Add);
        Assert.Equal(result.GeneratedIds, streamed.Select(t => t.Id));
        Assert.Equal(Enumerable.Range(0, 8), streamed.Select(t => t.Index));
        Assert.NotNull(result.Text);
        Assert.Equal(result.Text, string.Concat(streamed.Select(t => t.Text)));
        Assert.Equal(Llama.GreedyContinuation[..8], result.GeneratedIds);
        Assert.Equal(7, result.DecodeSteps);
    }

    [Fact]
    public void Text_prompt_is_tokenized_with_the_model_tokenizer()
    {
        var g = Generator.Value;
        Assert.NotNull(g.Tokenizer);
        var result = g.Generate("hello world", new GenerationOptions { MaxNewTokens = 2 });
        Assert.Equal(g.Tokenizer!.EncodeToIds("hello world"), result.PromptIds);
        Assert.Equal(2, result.GeneratedIds.Count);
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_top_k_one_reproduces_greedy()
    {
        var g = Generator.Value;
        var sampling = new GenerationOptions { MaxNewTokens = 6, Greedy = false, Temperature = 1.5, TopP = 0.95, Seed = 9 };
        Assert.Equal(g.Generate(Llama.PromptIds, sampling).GeneratedIds, g.Generate(Llama.PromptIds, sampling).GeneratedIds);
        var topk = g.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 6, Greedy = false, TopK = 1, Temperature = 0.7, Seed = 5 });
        Assert.Equal(Llama.GreedyContinuation[..6], topk.GeneratedIds);
    }

    [Fact]
    public void Zero_new_tokens_returns_the_prompt()
    {
        var result = Generator.Value.Generate(Llama.PromptIds, new GenerationOptions { MaxNewTokens = 0 });
        Assert.Empty(result.GeneratedIds);
        Assert.Equal(Llama.PromptIds, result.Ids);
    }

    [Fact]
    public void Bad_prompts_are_rejected_with_a_clear_message()
    {
        var g = Generator.Value;
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => g.Generate(Array.Empty<int>(), new GenerationOptions())).Message, StringComparison.Ordinal);
        Assert.Contains("512", Assert.Throws<ArgumentException>(() => g.Generate([1, 512], new GenerationOptions())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Generation_stops_when_the_context_is_full()
    {
        using var tmp = new TempDir();
        var model = (ICausalLanguageModel)ModelRegistry.Load(TinyModels.Write(tmp.Path, TinyModels.Config("llama"), TinyModels.LlamaWeights(2).Without("_proj.bias")));
        var g = TextGenerator.Compile(model, ReferenceBackend.Instance);
        var prompt = ModelRunner.RandomIds(60, 1, TinyModels.Vocab).Select(x => (int)x).ToArray();
        var result = g.Generate(prompt, new GenerationOptions { MaxNewTokens = 10, IgnoreEos = true });
        Assert.Equal(FinishReason.ContextFull, result.FinishReason);
        Assert.Equal(5, result.GeneratedIds.Count);
        Assert.Equal(64, g.Session.Position);
    }

    [Fact]
    public void Benchmark_reports_prefill_and_decode_throughput()
    {
        using var tmp = new TempDir();
        var model = (ICausalLanguageModel)ModelRegistry.Load(TinyModels.Write(tmp.Path, TinyModels.Config("llama"), TinyModels.LlamaWeights(2).Without("_proj.bias")));
        var g = TextGenerator.Compile(model, ReferenceBackend.Instance);
        var r = g.Benchmark(new BenchmarkOptions { PromptTokens = 8, GenTokens = 4, Repetitions = 3 });
        Assert.Equal(3, r.PrefillSamples.Count);
        Assert.Equal(3, r.DecodeSamples.Count);
        Assert.True(r.PrefillTokensPerSecond > 0 && r.DecodeTokensPerSecond > 0);
        Assert.Contains(r.PrefillTokensPerSecond, r.PrefillSamples);
    }

    [Fact]
    public void Kv_cache_views_hold_what_was_committed_and_refuse_overflow()
    {
        var cache = new KvCache(layers: 2, batch: 1, kvHeads: 2, headDim: 3, capacity: 3, DType.F32);
        HostTensor Entry(int n, float start) => HostTensor.FromArray([.. Enumerable.Range(0, n * 6).Select(i => start + i)], n, 1, 2, 3);
        cache.Commit([Entry(2, 0), Entry(2, 100)], [Entry(2, 200), Entry(2, 300)]);
        cache.Commit([Entry(1, 50), Entry(1, 150)], [Entry(1, 250), Entry(1, 350)]);
        Assert.Equal(3, cache.Length);
        Assert.Equal([3, 1, 2, 3], cache.Keys(1).Shape);
        Assert.Equal([.. Enumerable.Range(0, 12).Select(i => 100f + i), .. Enumerable.Range(0, 6).Select(i => 150f + i)], cache.Keys(1).ToFloat32());
        Assert.Throws<InvalidOperationException>(() => cache.Commit([Entry(1, 0), Entry(1, 0)], [Entry(1, 0), Entry(1, 0)]));
        var e = Assert.Throws<ArgumentException>(() => new KvCache(1, 1, 2, 3, 4, DType.F32).Commit([HostTensor.Zeros(DType.F32, 1, 1, 3, 3)], [Entry(1, 0)]));
        Assert.Contains("layer 0", e.Message, StringComparison.Ordinal);
        cache.Clear();
        Assert.Equal(0, cache.Keys(0).Shape[0]);
    }
}
