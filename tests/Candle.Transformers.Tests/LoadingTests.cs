using System.Text.Json;
using System.Text.Json.Nodes;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

public class LoadingTests
{
    private static readonly Reference Llama = Reference.Load("llama");

    private static HostTensor Logits(string dir, ModelLoadOptions? options = null) =>
        ModelRunner.FullLogits(ModelRegistry.Load(dir, options), Llama.Tensors["input_ids"].ToInt64(), batch: 2);

    private static string CopyLlama(TempDir tmp, Func<JsonObject, JsonObject>? editConfig = null, bool copyWeights = true)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Llama.Dir, "config.json")))!.AsObject();
        if (editConfig is not null) config = editConfig(config);
        File.WriteAllText(tmp.File("config.json"), config.ToJsonString());
        if (copyWeights) File.Copy(Path.Combine(Llama.Dir, "model.safetensors"), tmp.File("model.safetensors"));
        return tmp.Path;
    }

    [Fact]
    public void Transformers4_config_form_with_rope_theta_gives_the_reference_logits()
    {
        using var tmp = new TempDir();
        string dir = CopyLlama(tmp, c =>
        {
            c.Remove("rope_parameters");
            c["rope_theta"] = 10000.0;
            c["rope_scaling"] = null;
            return c;
        });
        Assert.True(TestUtil.MaxAbsDiff(Logits(dir), Llama.Tensors["logits"]) <= 1e-4);
    }

    [Fact]
    public void Llama3_rope_scaling_with_factor_one_leaves_the_reference_logits_unchanged()
    {
        using var tmp = new TempDir();
        string dir = CopyLlama(tmp, c =>
        {
            c.Remove("rope_parameters");
            c["rope_theta"] = 10000.0;
            c["rope_scaling"] = JsonNode.Parse("""{"rope_type": "llama3", "factor": 1.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}""");
            return c;
        });
        Assert.True(TestUtil.MaxAbsDiff(Logits(dir), Llama.Tensors["logits"]) <= 1e-4);
    }

    [Fact]
    public void Sharded_checkpoint_gives_the_reference_logits()
    {
        using var tmp = new TempDir();
        string dir = CopyLlama(tmp, copyWeights: false);
        using var source = SafeTensorsFile.Open(Path.Combine(Llama.Dir, "model.safetensors"));
        var names = source.Names.Order(StringComparer.Ordinal).ToList();
        var map = new Dictionary<string, string>();
        for (int s = 0; s < 2; s++)
        {
            string file = $"model-0000{s + 1}-of-00002.safetensors";
            var part = names.Where((_, i) => i % 2 == s).ToList();
            SafeTensorsWriter.Write(tmp.File(file), part.Select(n => new KeyValuePair<string, HostTensor>(n, source.Get(n))));
            foreach (string n in part) map[n] = file;
        }

        File.WriteAllText(tmp.File("model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
        Assert.True(TestUtil.MaxAbsDiff(Logits(dir), Llama.Tensors["logits"]) <= 1e-4);
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void Half_precision_checkpoint_loads_into_f32_exactly_as_its_widened_values(DType stored)
    {
        using var half = new TempDir();
        using var widened = new TempDir();
        CopyLlama(half, copyWeights: false);
        CopyLlama(widened, copyWeights: false);
        using (var source = SafeTensorsFile.Open(Path.Combine(Llama.Dir, "model.safetensors")))
        {
            var rounded = source.Names.ToDictionary(n => n, n => source.Get(n).Cast(stored));
            SafeTensorsWriter.Write(half.File("model.safetensors"), rounded);
            SafeTensorsWriter.Write(widened.File("model.safetensors"), rounded.Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, kv.Value.Cast(DType.F32))));
        }

        var a = Logits(half.Path);
        Assert.Equal(DType.F32, a.DType);
        Assert.Equal(0, TestUtil.MaxAbsDiff(a, Logits(widened.Path)));
        Assert.True(TestUtil.MaxAbsDiff(a, Llama.Tensors["logits"]) < 0.1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Bf16_checkpoint_keeps_its_matrices_bf16_and_compiled_decoding_matches_the_reference(int batch)
    {
        using var half = new TempDir();
        CopyLlama(half, copyWeights: false);
        using (var source = SafeTensorsFile.Open(Path.Combine(Llama.Dir, "model.safetensors")))
        {
            SafeTensorsWriter.Write(half.File("model.safetensors"), source.Names.ToDictionary(n => n, n => source.Get(n).Cast(DType.BF16)));
        }

        var model = (ICausalLanguageModel)ModelRegistry.Load(half.Path);
        Assert.Equal(DType.F32, model.DType);
        var parameters = ((Candle.Torch.Nn.Module)model).NamedParameters().ToList();
        // Linear and embedding matrices stay as stored (no float32 copy); norm vectors are widened.
        Assert.All(parameters.Where(p => p.Parameter.Data.Rank == 2), p => Assert.Equal(DType.BF16, p.Parameter.Data.DType));
        Assert.All(parameters.Where(p => p.Parameter.Data.Rank == 1), p => Assert.Equal(DType.F32, p.Parameter.Data.DType));

        // Compiled prefill and decode (bf16 GEMV at batch 1, packed bf16 at batch 2) against the reference interpreter.
        long[] ids = ModelRunner.RandomIds(6 * batch, seed: batch, vocab: model.VocabSize);
        Assert.True(ModelRunner.CachedVersusFull(model, ids, batch, prefill: 3, backend: "cpu") < 1e-4);
    }

    [Theory]
    [InlineData(DType.F16, 0.05)]
    [InlineData(DType.BF16, 0.5)]
    public void Model_computes_in_half_precision_when_asked(DType dtype, double tolerance)
    {
        var model = (ICausalLanguageModel)ModelRegistry.Load(Llama.Dir, new ModelLoadOptions { DType = dtype });
        Assert.Equal(dtype, model.DType);
        var logits = Logits(Llama.Dir, new ModelLoadOptions { DType = dtype });
        Assert.Equal(DType.F32, logits.DType);
        Assert.True(TestUtil.MaxAbsDiff(logits, Llama.Tensors["logits"]) < tolerance, $"max abs error {TestUtil.MaxAbsDiff(logits, Llama.Tensors["logits"])}");
        long[] ids = [.. Llama.PromptIds.Select(i => (long)i)];
        Assert.True(ModelRunner.CachedVersusFull(model, ids, batch: 1, prefill: 4) < tolerance);
    }

    [Fact]
    public void Unknown_model_type_error_lists_the_supported_types()
    {
        using var tmp = new TempDir();
        string dir = CopyLlama(tmp, c =>
        {
            c["model_type"] = "falcon9000";
            return c;
        });
        var e = Assert.Throws<NotSupportedException>(() => ModelRegistry.Load(dir));
        Assert.Contains("falcon9000", e.Message, StringComparison.Ordinal);
        foreach (string t in new[] { "gemma", "gpt2", "llama", "mistral", "phi3", "qwen2" }) Assert.Contains(t, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mis_shaped_tensor_error_names_the_tensor_and_both_shapes()
    {
        using var tmp = new TempDir();
        var w = TinyModels.LlamaWeights(1).Without("_proj.bias");
        w["model.layers.1.self_attn.k_proj.weight"] = HostTensor.Zeros(DType.F32, 12, TinyModels.Hidden);
        string dir = TinyModels.Write(tmp.Path, TinyModels.Config("llama"), w);
        var e = Assert.Throws<InvalidDataException>(() => ModelRegistry.Load(dir));
        Assert.Contains("'model.layers.1.self_attn.k_proj.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[12, 32]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[16, 32]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_tensor_error_names_the_tensor()
    {
        using var tmp = new TempDir();
        var w = TinyModels.LlamaWeights(1).Without("_proj.bias").Without("lm_head.weight");
        string dir = TinyModels.Write(tmp.Path, TinyModels.Config("llama"), w);
        var e = Assert.Throws<InvalidDataException>(() => ModelRegistry.Load(dir));
        Assert.Contains("'lm_head.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tied_embeddings_need_no_lm_head()
    {
        using var tmp = new TempDir();
        var w = TinyModels.LlamaWeights(1, tied: true).Without("_proj.bias");
        var model = (ICausalLanguageModel)ModelRegistry.Load(TinyModels.Write(tmp.Path, TinyModels.Config("llama", "\"tie_word_embeddings\": true"), w));
        var logits = ModelRunner.FullLogits(model, [3, 4, 5]);
        Assert.Equal([1, 3, TinyModels.Vocab], logits.Shape);
    }

    [Fact]
    public void Forward_graph_is_named_as_transformers_names_it_and_has_symbolic_dims()
    {
        var model = ModelRegistry.Load(Llama.Dir);
        var g = model.TraceForward();
        Assert.Equal("input_ids", Assert.Single(g.Inputs).Attr<Compiler.Ir.InputAttrs>().Name);
        Assert.Equal(["logits"], g.OutputNames.ToArray());
        Assert.Equal(["batch", "seq"], g.Symbols.Order(StringComparer.Ordinal));
        Assert.Equal(Candle.Runtime.DType.F32, g.Outputs[0].DType);
        Assert.Equal("[batch, seq, 512]", g.Outputs[0].Shape.ToString());
    }
}
