using Candle.Runtime.Tensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Models.Llama;

namespace Candle.Transformers.Tests;

public class ArchitectureTests
{
    private static readonly long[] Ids = ModelRunner.RandomIds(10, 7, TinyModels.Vocab);

    public static TheoryData<string> Variants => new() { "llama", "llama-bias", "llama3-rope", "mistral-window", "qwen2-window", "gemma", "phi3", "phi3-partial-longrope" };

    private static (string Config, Dictionary<string, HostTensor> Weights) Variant(string name)
    {
        var w = TinyModels.LlamaWeights(11);
        var noBias = w.Without("_proj.bias");
        return name switch
        {
            "llama" => (TinyModels.Config("llama"), noBias),
            "llama-bias" => (TinyModels.Config("llama", "\"attention_bias\": true"), WithOutputBias(w)),
            "llama3-rope" => (TinyModels.Config("llama", """
                "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
                """), noBias),
            "mistral-window" => (TinyModels.Config("mistral", "\"sliding_window\": 3"), noBias),
            "qwen2-window" => (TinyModels.Config("qwen2", "\"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 1, \"tie_word_embeddings\": false"), w),
            "gemma" => (TinyModels.Config("gemma"), TinyModels.LlamaWeights(11, tied: true).Without("_proj.bias")),
            "phi3" => (TinyModels.Config("phi3", "\"sliding_window\": 5"), TinyModels.Fuse(noBias)),
            "phi3-partial-longrope" => (TinyModels.Config("phi3", """
                "partial_rotary_factor": 0.5, "original_max_position_embeddings": 32,
                "rope_scaling": {"type": "longrope", "short_factor": [1.0, 1.5], "long_factor": [2.0, 4.0]}
                """), TinyModels.Fuse(noBias)),
            _ => throw new ArgumentException(name),
        };
    }

    private static Dictionary<string, HostTensor> WithOutputBias(Dictionary<string, HostTensor> w)
    {
        var r = new Dictionary<string, HostTensor>(w, StringComparer.Ordinal);
        var rng = new Random(3);
        for (int l = 0; l < TinyModels.Layers; l++)
        {
            r[$"model.layers.{l}.self_attn.o_proj.bias"] = HostTensor.FromArray([.. Enumerable.Range(0, TinyModels.Hidden).Select(_ => (float)rng.NextDouble() - 0.5f)], TinyModels.Hidden);
        }

        return r;
    }

    private static ICausalLanguageModel Load(TempDir dir, string config, IReadOnlyDictionary<string, HostTensor> weights, string sub = "m") =>
        (ICausalLanguageModel)ModelRegistry.Load(TinyModels.Write(Path.Combine(dir.Path, sub), config, weights));

    [Theory]
    [MemberData(nameof(Variants))]
    public void Kv_cache_decode_equals_full_forward_at_every_position(string variant)
    {
        using var dir = new TempDir();
        var (config, weights) = Variant(variant);
        var model = Load(dir, config, weights);
        Assert.True(ModelRunner.CachedVersusFull(model, Ids, batch: 1, prefill: 3) <= 1e-4);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Cpu_backend_kv_cache_decode_equals_reference_full_forward(string variant)
    {
        using var dir = new TempDir();
        var (config, weights) = Variant(variant);
        var model = Load(dir, config, weights);
        Assert.True(ModelRunner.CachedVersusFull(model, Ids, batch: 1, prefill: 3, backend: "cpu") <= 1e-4);
    }

    [Fact]
    public void Kv_cache_decode_equals_full_forward_with_batch_of_two()
    {
        using var dir = new TempDir();
        var (config, weights) = Variant("mistral-window");
        var model = Load(dir, config, weights);
        long[] ids = [.. Ids, .. ModelRunner.RandomIds(10, 8, TinyModels.Vocab)];
        Assert.True(ModelRunner.CachedVersusFull(model, ids, batch: 2, prefill: 4) <= 1e-4);
    }

    [Fact]
    public void Phi3_fused_projections_equal_llama_with_split_weights()
    {
        using var dir = new TempDir();
        var split = TinyModels.LlamaWeights(5).Without("_proj.bias");
        var llama = Load(dir, TinyModels.Config("llama"), split, "llama");
        var phi3 = Load(dir, TinyModels.Config("phi3"), TinyModels.Fuse(split), "phi3");
        Assert.True(TestUtil.MaxAbsDiff(ModelRunner.FullLogits(phi3, Ids), ModelRunner.FullLogits(llama, Ids)) <= 1e-5);
    }

    [Fact]
    public void Qwen2_with_zero_qkv_bias_equals_llama_and_a_nonzero_bias_changes_it()
    {
        using var dir = new TempDir();
        var w = TinyModels.LlamaWeights(6);
        var zero = w.ToDictionary(kv => kv.Key, kv => kv.Key.EndsWith("_proj.bias", StringComparison.Ordinal) ? HostTensor.Zeros(kv.Value.DType, kv.Value.ShapeArray()) : kv.Value);
        var llama = ModelRunner.FullLogits(Load(dir, TinyModels.Config("llama"), w.Without("_proj.bias"), "llama"), Ids);
        var qwenZero = ModelRunner.FullLogits(Load(dir, TinyModels.Config("qwen2", "\"tie_word_embeddings\": false"), zero, "q0"), Ids);
        var qwen = ModelRunner.FullLogits(Load(dir, TinyModels.Config("qwen2", "\"tie_word_embeddings\": false"), w, "q1"), Ids);
        Assert.True(TestUtil.MaxAbsDiff(qwenZero, llama) <= 1e-5);
        Assert.True(TestUtil.MaxAbsDiff(qwen, llama) > 1e-3);
    }

    [Fact]
    public void Mistral_with_a_window_longer_than_the_sequence_equals_llama_and_a_short_window_differs()
    {
        using var dir = new TempDir();
        var w = TinyModels.LlamaWeights(9).Without("_proj.bias");
        var llama = ModelRunner.FullLogits(Load(dir, TinyModels.Config("llama"), w, "llama"), Ids);
        var wide = ModelRunner.FullLogits(Load(dir, TinyModels.Config("mistral", "\"sliding_window\": 4096"), w, "wide"), Ids);
        var exact = ModelRunner.FullLogits(Load(dir, TinyModels.Config("mistral", $"\"sliding_window\": {Ids.Length}"), w, "exact"), Ids);
        var narrow = ModelRunner.FullLogits(Load(dir, TinyModels.Config("mistral", "\"sliding_window\": 3"), w, "narrow"), Ids).ToFloat32();
        Assert.True(TestUtil.MaxAbsDiff(wide, llama) <= 1e-6);
        Assert.True(TestUtil.MaxAbsDiff(exact, llama) <= 1e-6);

        // With a window of 3, the first 3 positions see all their keys and must agree; later ones must not.
        var l = llama.ToFloat32();
        int v = TinyModels.Vocab;
        double Diff(int pos) => Enumerable.Range(0, v).Max(i => Math.Abs(narrow[(pos * v) + i] - l[(pos * v) + i]));
        Assert.True(Diff(0) <= 1e-6 && Diff(1) <= 1e-6 && Diff(2) <= 1e-6);
        Assert.True(Diff(9) > 1e-3);
    }

    [Fact]
    public void Gemma_one_plus_w_norm_with_zero_weights_equals_llama_norm_with_unit_weights()
    {
        using var dir = new TempDir();
        var w = TinyModels.LlamaWeights(12).Without("_proj.bias");
        float scale = (float)Math.Sqrt(TinyModels.Hidden);
        var gemma = w.ToDictionary(kv => kv.Key, kv => kv.Key.EndsWith("norm.weight", StringComparison.Ordinal) ? HostTensor.Zeros(kv.Value.DType, kv.Value.ShapeArray()) : kv.Value);
        var llama = w.ToDictionary(kv => kv.Key, kv => kv.Key.EndsWith("norm.weight", StringComparison.Ordinal)
            ? HostTensor.FromArray([.. Enumerable.Repeat(1f, TinyModels.Hidden)], TinyModels.Hidden)
            : kv.Key == "model.embed_tokens.weight" ? HostTensor.FromArray([.. kv.Value.ToFloat32().Select(x => x * scale)], kv.Value.ShapeArray()) : kv.Value);
        var g = ModelRunner.FullLogits(Load(dir, TinyModels.Config("gemma", "\"tie_word_embeddings\": false"), gemma, "gemma"), Ids);
        var l = ModelRunner.FullLogits(Load(dir, TinyModels.Config("llama", "\"hidden_act\": \"gelu_pytorch_tanh\""), llama, "llama"), Ids);
        Assert.True(TestUtil.MaxAbsDiff(g, l) <= 1e-5);
    }

    [Fact]
    public void Longrope_uses_the_long_factors_once_the_sequence_exceeds_the_original_length()
    {
        using var dir = new TempDir();
        var w = TinyModels.Fuse(TinyModels.LlamaWeights(13).Without("_proj.bias"));
        string Cfg(int originalMax, string shortF, string longF) => TinyModels.Config("phi3", $$"""
            "partial_rotary_factor": 0.5, "original_max_position_embeddings": {{originalMax}},
            "rope_scaling": {"rope_type": "longrope", "attention_factor": 1.25, "short_factor": {{shortF}}, "long_factor": {{longF}}}
            """);
        var past = ModelRunner.FullLogits(Load(dir, Cfg(6, "[1.0, 1.5]", "[2.0, 4.0]"), w, "past"), Ids);
        var longOnly = ModelRunner.FullLogits(Load(dir, Cfg(6, "[2.0, 4.0]", "[2.0, 4.0]"), w, "long"), Ids);
        var within = ModelRunner.FullLogits(Load(dir, Cfg(32, "[1.0, 1.5]", "[2.0, 4.0]"), w, "within"), Ids);
        var shortOnly = ModelRunner.FullLogits(Load(dir, Cfg(32, "[1.0, 1.5]", "[1.0, 1.5]"), w, "short"), Ids);
        Assert.True(TestUtil.MaxAbsDiff(past, longOnly) <= 1e-6);
        Assert.True(TestUtil.MaxAbsDiff(within, shortOnly) <= 1e-6);
        Assert.True(TestUtil.MaxAbsDiff(past, within) > 1e-3);
    }

    [Fact]
    public void Gemma_reads_its_defaults_tied_embeddings_and_gelu_tanh()
    {
        var c = LlamaConfig.FromHf(HfConfig.Parse(TinyModels.Config("gemma")));
        Assert.True(c.TieWordEmbeddings && c.ScaleEmbeddings && c.NormAddsOne);
        Assert.Equal("gelu_pytorch_tanh", c.HiddenAct);
        var q = LlamaConfig.FromHf(HfConfig.Parse(TinyModels.Config("qwen2")));
        Assert.True(q.QkvBias && !q.OutputBias);
        Assert.All(q.SlidingWindows, Assert.Null);
        var m = LlamaConfig.FromHf(HfConfig.Parse(TinyModels.Config("qwen2", "\"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 1")));
        Assert.Equal([null, 4], m.SlidingWindows);
    }

    [Fact]
    public void Sliding_window_mask_keeps_keys_within_the_window()
    {
        var mask = AttentionMasks.SlidingWindow(Candle.Torch.Tensor.FromArray([0L, 1, 2, 3, 4], 1, 5), 5, window: 2).ToHostTensor();
        Assert.Equal([1, 1, 5, 5], mask.Shape);
        for (int q = 0; q < 5; q++)
        {
            for (int k = 0; k < 5; k++)
            {
                Assert.Equal(q - k < 2, mask.GetDouble((q * 5) + k) != 0);
            }
        }
    }
}
