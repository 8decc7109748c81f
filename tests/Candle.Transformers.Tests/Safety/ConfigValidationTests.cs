using System.Text.Json.Nodes;
using Candle.Tests;
using Candle.Transformers.Models;

namespace Candle.Transformers.Tests.Safety;

/// <summary>
/// Hostile config.json values fail with one line naming the file and the key, before anything sized by them is
/// allocated; a config that disagrees with its checkpoint is an error, not a different model.
/// </summary>
public sealed class ConfigValidationTests : IDisposable
{
    private const long AllocationBound = 64L << 20;
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>A copy of a reference model directory with its config edited (the weights are linked by copy).</summary>
    private string Copy(string model, Action<JsonObject> edit)
    {
        string dir = Path.Combine(_tmp.Path, model + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string src = Fixtures.Model(model);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(src, "config.json")))!.AsObject();
        edit(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(src, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        return dir;
    }

    /// <summary>Loads and expects an <see cref="InvalidDataException"/> naming the config and every fragment, within the allocation bound.</summary>
    private static void AssertFails(string dir, ModelLoadOptions? options, params string[] fragments)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => ModelRegistry.Load(dir, options));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationBound, $"allocated {allocated} bytes before failing: {e.Message}");
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(dir, e.Message, StringComparison.Ordinal);
        foreach (string f in fragments) Assert.Contains(f, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_layer_count_past_32_bits_is_an_error_not_a_wrapped_count()
    {
        // 4294967297 = 2^32 + 1 used to load as one layer.
        AssertFails(Copy("llama", c => c["num_hidden_layers"] = 4294967297L), null, "num_hidden_layers", "4294967297");
    }

    [Theory]
    [InlineData("llama", "num_hidden_layers", 1_000_000_000L)]
    [InlineData("llama", "num_hidden_layers", int.MaxValue)]
    [InlineData("gpt2", "n_layer", 1_000_000_000L)]
    [InlineData("gpt2", "n_layer", int.MaxValue)]
    [InlineData("bert", "num_hidden_layers", 1_000_000_000L)]
    [InlineData("bert", "num_hidden_layers", int.MaxValue)]
    [InlineData("whisper", "decoder_layers", 1_000_000_000L)]
    [InlineData("whisper", "encoder_layers", int.MaxValue)]
    public void A_huge_layer_count_fails_before_allocating(string model, string key, long layers)
    {
        AssertFails(Copy(model, c => c[key] = layers), null, key);
    }

    [Theory]
    [InlineData("llama", "num_hidden_layers", "model.layers.")]
    [InlineData("gpt2", "n_layer", "h.")]
    [InlineData("bert", "num_hidden_layers", "encoder.layer.")]
    [InlineData("whisper", "decoder_layers", "decoder.layers.")]
    public void More_layers_than_the_checkpoint_name_the_first_missing_tensor(string model, string key, string tensorPrefix)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Model(model), "config.json")))!.AsObject();
        int layers = (int)config[key]!;
        AssertFails(Copy(model, c => c[key] = layers + 1), null, key, tensorPrefix + layers.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("llama", "num_hidden_layers")]
    [InlineData("gpt2", "n_layer")]
    [InlineData("bert", "num_hidden_layers")]
    [InlineData("whisper", "encoder_layers")]
    public void Fewer_layers_than_the_checkpoint_is_an_error_unless_unused_tensors_are_allowed(string model, string key)
    {
        string dir = Copy(model, c => c[key] = (int)c[key]! - 1);
        AssertFails(dir, null, key, "unused");
        var loaded = ModelRegistry.Load(dir, new ModelLoadOptions { AllowUnusedTensors = true });
        Assert.Equal(model, loaded.ModelType);
    }

    [Fact]
    public void A_checkpoint_tensor_the_model_does_not_read_is_an_error()
    {
        // tie_word_embeddings on a checkpoint that has its own lm_head.weight: the head would be silently dropped.
        AssertFails(Copy("llama", c => c["tie_word_embeddings"] = true), null, "lm_head.weight", "not used");
    }

    [Theory]
    [InlineData("llama", "rope_theta", 0.0)]
    [InlineData("llama", "rope_theta", -10000.0)]
    [InlineData("llama", "rms_norm_eps", -1e-6)]
    [InlineData("llama", "rms_norm_eps", 0.0)]
    [InlineData("gpt2", "layer_norm_epsilon", -1e-5)]
    [InlineData("bert", "layer_norm_eps", 0.0)]
    public void Non_positive_epsilon_or_rope_theta_is_an_error(string model, string key, double value)
    {
        AssertFails(Copy(model, c =>
        {
            c.Remove("rope_parameters");
            c[key] = value;
        }), null, key);
    }

    [Fact]
    public void Rope_theta_zero_in_the_transformers_5_form_is_an_error()
    {
        AssertFails(Copy("llama", c => c["rope_parameters"] = JsonNode.Parse("""{"rope_type": "default", "rope_theta": 0.0}""")), null, "rope_theta");
    }

    [Theory]
    [InlineData("llama", "eos_token_id", "1099511627776")]
    [InlineData("llama", "eos_token_id", "[2, 1099511627776]")]
    [InlineData("llama", "eos_token_id", "-3")]
    [InlineData("gpt2", "eos_token_id", "1e300")]
    [InlineData("whisper", "eos_token_id", "\"x\"")]
    [InlineData("llama", "vocab_size", "99999999999999999999")]
    [InlineData("llama", "hidden_size", "2.5")]
    [InlineData("bert", "max_position_embeddings", "1e40")]
    public void Out_of_range_or_mistyped_values_name_the_key(string model, string key, string json)
    {
        AssertFails(Copy(model, c => c[key] = JsonNode.Parse(json)), null, key);
    }

    [Theory]
    [InlineData(1_000_000_000L)]
    [InlineData(2_147_483_646L)]
    public void A_huge_head_dim_fails_before_sizing_rotary_tables(long headDim)
    {
        AssertFails(Copy("llama", c => c["head_dim"] = headDim), null, "head_dim");
    }

    [Theory]
    [InlineData("num_attention_heads", 5)]
    [InlineData("num_key_value_heads", 3)]
    [InlineData("num_attention_heads", 0)]
    [InlineData("intermediate_size", -1)]
    public void Heads_must_divide_and_sizes_must_be_positive(string key, int value)
    {
        AssertFails(Copy("llama", c =>
        {
            c.Remove("head_dim");
            c[key] = value;
        }), null, key);
    }

    [Fact]
    public void The_reference_configs_still_load()
    {
        foreach (string model in Fixtures.ModelNames)
        {
            Assert.Equal(model, ModelRegistry.Load(Fixtures.Model(model)).ModelType);
        }
    }
}
