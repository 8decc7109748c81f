using System.Globalization;
using System.Text;
using System.Text.Json;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Transformers.Models.Gguf;

/// <summary>
/// Builds the Hugging Face <c>config.json</c> of a llama-architecture GGUF file from its metadata
/// (<c>llama.block_count</c>, <c>llama.embedding_length</c>, <c>llama.attention.head_count</c>, ...) and its tensors
/// (vocabulary size from <c>token_embd.weight</c>, tied embeddings when <c>output.weight</c> is absent, biases when
/// the bias tensors exist), so that the Llama model code loads it as it loads a transformers checkpoint.
/// </summary>
public static class GgufHfConfig
{
    /// <summary>The llama.cpp architectures that map to a Hugging Face model type here.</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } = ["llama"];

    /// <summary>The config of <paramref name="file"/>; its <see cref="HfConfig.Path"/> is the GGUF file's path.</summary>
    /// <exception cref="NotSupportedException">The architecture or its rope scaling is not supported; the message names it.</exception>
    /// <exception cref="GgufFormatException">A required key is missing or has the wrong type; the message names the key.</exception>
    public static HfConfig FromFile(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return HfConfig.Parse(ToJson(file), file.Path);
    }

    /// <summary>The config of <paramref name="file"/> as <c>config.json</c> text.</summary>
    /// <exception cref="NotSupportedException">The architecture or its rope scaling is not supported; the message names it.</exception>
    /// <exception cref="GgufFormatException">A required key is missing or has the wrong type; the message names the key.</exception>
    public static string ToJson(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string arch = file.Architecture ?? "(none)";
        if (!SupportedArchitectures.Contains(arch))
        {
            throw new NotSupportedException(
                $"{file.Path}: GGUF architecture '{arch}' (general.architecture) is not supported; supported: {string.Join(", ", SupportedArchitectures)}");
        }

        var m = file.Metadata;
        string p = arch + ".";
        int layers = RequirePositive(file, p + "block_count");
        int hidden = RequirePositive(file, p + "embedding_length");
        int intermediate = RequirePositive(file, p + "feed_forward_length");
        int heads = RequirePositive(file, p + "attention.head_count");
        int kvHeads = OptionalPositive(file, p + "attention.head_count_kv") ?? heads;
        int headDim = OptionalPositive(file, p + "attention.key_length") ?? (hidden % heads == 0 ? hidden / heads
            : throw new GgufFormatException(file.Path, null, p + "attention.head_count", $"{heads} heads do not divide embedding_length {hidden} and attention.key_length is absent"));
        if (headDim > Common.ConfigLimits.MaxHeadDim)
        {
            throw new GgufFormatException(file.Path, null, p + "attention.key_length", $"head size {headDim} is more than {Common.ConfigLimits.MaxHeadDim}");
        }

        if (OptionalPositive(file, p + "attention.value_length") is int vdim && vdim != headDim)
        {
            throw new NotSupportedException($"{file.Path}: attention.value_length {vdim} differs from attention.key_length {headDim}; only equal head sizes are supported");
        }

        var embedding = file.TryGetInfo("token_embd.weight", out var e) ? e
            : throw new GgufFormatException(file.Path, "token_embd.weight", null, "the token embedding tensor is missing");
        if (embedding.Shape.Count != 2 || embedding.Shape[1] != hidden)
        {
            throw new GgufFormatException(file.Path, "token_embd.weight", null,
                $"shape [{string.Join(", ", embedding.Shape)}] is not [vocab, {hidden}] (embedding_length)");
        }

        int vocab = embedding.Shape[0];
        int context = OptionalPositive(file, p + "context_length") ?? 2048;
        double eps = OptionalPositiveNumber(file, p + "attention.layer_norm_rms_epsilon") ?? 1e-5;
        double theta = OptionalPositiveNumber(file, p + "rope.freq_base") ?? 10000.0;
        if (layers > Common.ConfigLimits.MaxLayers)
        {
            throw new GgufFormatException(file.Path, null, p + "block_count", $"{layers} is more than the {Common.ConfigLimits.MaxLayers} layers any supported model has");
        }

        long? bos = TokenId(file, "tokenizer.ggml.bos_token_id", vocab);
        long? eos = TokenId(file, "tokenizer.ggml.eos_token_id", vocab);
        int rotaryDim = OptionalPositive(file, p + "rope.dimension_count") ?? headDim;
        if (rotaryDim > headDim || rotaryDim % 2 != 0)
        {
            throw new GgufFormatException(file.Path, null, p + "rope.dimension_count", $"{rotaryDim} must be even and at most the head size {headDim}");
        }

        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model_type", "llama");
            w.WriteStartArray("architectures");
            w.WriteStringValue("LlamaForCausalLM");
            w.WriteEndArray();
            w.WriteNumber("vocab_size", vocab);
            w.WriteNumber("hidden_size", hidden);
            w.WriteNumber("intermediate_size", intermediate);
            w.WriteNumber("num_hidden_layers", layers);
            w.WriteNumber("num_attention_heads", heads);
            w.WriteNumber("num_key_value_heads", kvHeads);
            w.WriteNumber("head_dim", headDim);
            w.WriteNumber("rms_norm_eps", eps);
            w.WriteNumber("max_position_embeddings", context);
            w.WriteString("hidden_act", "silu");
            w.WriteBoolean("attention_bias", file.Contains("blk.0.attn_q.bias"));
            w.WriteBoolean("mlp_bias", file.Contains("blk.0.ffn_up.bias"));
            w.WriteBoolean("tie_word_embeddings", !file.Contains("output.weight"));
            if (bos is long b) w.WriteNumber("bos_token_id", b);
            if (eos is long e2) w.WriteNumber("eos_token_id", e2);
            if (rotaryDim != headDim) w.WriteNumber("partial_rotary_factor", rotaryDim / (double)headDim);
            w.WriteStartObject("rope_parameters");
            w.WriteNumber("rope_theta", theta);
            GgufRopeScaling.Write(file, arch, theta, rotaryDim, context, w);
            w.WriteEndObject();
            w.WriteString("torch_dtype", "float32");
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    internal static int RequirePositive(GgufFile file, string key) =>
        OptionalPositive(file, key) ?? throw new GgufFormatException(file.Path, null, key, "the key is missing");

    internal static int? OptionalPositive(GgufFile file, string key)
    {
        if (!file.Metadata.ContainsKey(key)) return null;
        long v = file.Metadata.GetInteger(key);
        return v is > 0 and <= int.MaxValue ? (int)v : throw new GgufFormatException(file.Path, null, key, $"{v} is not a positive 32-bit integer");
    }

    /// <summary>A finite number greater than zero (an epsilon, a rope base), or null when absent.</summary>
    internal static double? OptionalPositiveNumber(GgufFile file, string key)
    {
        double? v = OptionalNumber(file, key);
        return v is null or > 0 ? v : throw new GgufFormatException(file.Path, null, key, $"{v.Value.ToString("R", CultureInfo.InvariantCulture)} is not a number > 0");
    }

    /// <summary>A token id in [0, vocab), or null when absent.</summary>
    internal static long? TokenId(GgufFile file, string key, int vocab)
    {
        if (!file.Metadata.ContainsKey(key)) return null;
        long v = file.Metadata.GetInteger(key);
        return v >= 0 && v < vocab ? v : throw new GgufFormatException(file.Path, null, key, $"token id {v} is outside the vocabulary [0, {vocab})");
    }

    /// <summary>A finite number; float32 values are widened through their shortest decimal form (1e-5f → 1e-05, not 9.99999974737875e-06).</summary>
    internal static double? OptionalNumber(GgufFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return null;
        double d = file.Metadata.GetNumber(key);
        if (!double.IsFinite(d)) throw new GgufFormatException(file.Path, null, key, $"{d.ToString(CultureInfo.InvariantCulture)} is not a finite number");
        return v.Type == GgufValueType.Float32 ? double.Parse(((float)d).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : d;
    }
}
