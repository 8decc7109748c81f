using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Llama;

/// <summary>
/// The settings of a Llama-family decoder (Llama, Mistral, Qwen2, Gemma, Phi-3), read from a Hugging Face
/// config with each architecture's transformers defaults. The variants differ only in the switches below.
/// </summary>
public sealed record LlamaConfig
{
    /// <summary>The model types this config reads.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = ["gemma", "llama", "mistral", "phi3", "qwen2"];

    /// <summary>The <c>model_type</c>.</summary>
    public required string ModelType { get; init; }

    /// <summary>Vocabulary size.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Model width.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>MLP width.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Number of decoder layers.</summary>
    public required int NumLayers { get; init; }

    /// <summary>Number of query heads.</summary>
    public required int NumHeads { get; init; }

    /// <summary>Number of key/value heads (grouped-query attention when fewer than the query heads).</summary>
    public required int NumKvHeads { get; init; }

    /// <summary>Size of each attention head.</summary>
    public required int HeadDim { get; init; }

    /// <summary>RMS norm epsilon.</summary>
    public required double RmsNormEps { get; init; }

    /// <summary>Maximum positions (the longest sequence the KV cache is sized for).</summary>
    public required int MaxPositionEmbeddings { get; init; }

    /// <summary>Rotary embedding settings.</summary>
    public required RopeParameters Rope { get; init; }

    /// <summary>The MLP activation (<c>silu</c>, <c>gelu_pytorch_tanh</c>, ...).</summary>
    public required string HiddenAct { get; init; }

    /// <summary>Whether q, k and v projections have a bias (Qwen2, or Llama's <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Whether the output projection has a bias (Llama's <c>attention_bias</c>).</summary>
    public bool OutputBias { get; init; }

    /// <summary>Whether the MLP projections have a bias (Llama's <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }

    /// <summary>Whether the LM head shares the token embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary>Gemma: embeddings are multiplied by √hidden_size.</summary>
    public bool ScaleEmbeddings { get; init; }

    /// <summary>Gemma: RMS norms multiply by (1 + weight).</summary>
    public bool NormAddsOne { get; init; }

    /// <summary>Phi-3: one <c>qkv_proj</c> and one <c>gate_up_proj</c> instead of separate projections.</summary>
    public bool FusedProjections { get; init; }

    /// <summary>Per layer: the sliding attention window (a key is seen when query − key &lt; window), or null for full attention.</summary>
    public required IReadOnlyList<int?> SlidingWindows { get; init; }

    /// <summary>Token ids that end generation (from <c>eos_token_id</c>).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>The begin-of-sequence token id, if any.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>Reads a config of any of the <see cref="ModelTypes"/>, with that architecture's defaults.</summary>
    /// <exception cref="NotSupportedException">The model type is not a Llama-family type.</exception>
    /// <exception cref="InvalidDataException">A value is missing or inconsistent; the message names the file and key.</exception>
    public static LlamaConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string type = config.ModelType;
        var d = type switch
        {
            "llama" => new Defaults(32000, 4096, 11008, 32, 32, null, 1e-6, 2048, "silu", false),
            "mistral" => new Defaults(32000, 4096, 14336, 32, 32, 8, 1e-6, 4096 * 32, "silu", false),
            "qwen2" => new Defaults(151936, 4096, 22016, 32, 32, 32, 1e-6, 32768, "silu", false),
            "gemma" => new Defaults(256000, 3072, 24576, 28, 16, 16, 1e-6, 8192, "gelu_pytorch_tanh", true, HeadDim: 256),
            "phi3" => new Defaults(32064, 3072, 8192, 32, 32, null, 1e-5, 4096, "silu", false),
            _ => throw new NotSupportedException($"{config.Path}: model_type '{type}' is not a Llama-family model ({string.Join(", ", ModelTypes)})"),
        };

        int hidden = config.GetInt(d.Hidden, "hidden_size");
        int heads = config.GetInt(d.Heads, "num_attention_heads");
        int kvHeads = config.GetInt(d.KvHeads ?? heads, "num_key_value_heads");
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw config.Error($"num_attention_heads ({heads}) must be a positive multiple of num_key_value_heads ({kvHeads})");
        }

        int headDim = config.GetInt(d.HeadDim ?? 0, "head_dim");
        if (headDim <= 0)
        {
            if (hidden % heads != 0) throw config.Error($"hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}) and head_dim is not given");
            headDim = hidden / heads;
        }

        ConfigLimits.HeadDim(config.Path, "head_dim", headDim);

        int layers = ConfigLimits.Layers(config.Path, "num_hidden_layers", config.GetInt(d.Layers, "num_hidden_layers"));
        int maxPos = config.GetInt(d.MaxPos, "max_position_embeddings");
        string act = type == "gemma"
            ? config.GetString("hidden_activation") ?? d.Act
            : config.GetString("hidden_act") ?? d.Act;
        bool attentionBias = config.GetBool(false, "attention_bias");
        var bos = config.GetIntList("bos_token_id");
        var cfg = new LlamaConfig
        {
            ModelType = type,
            VocabSize = config.GetInt(d.Vocab, "vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = config.GetInt(d.Intermediate, "intermediate_size"),
            NumLayers = layers,
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = config.GetPositiveDouble(d.Eps, "rms_norm_eps"),
            MaxPositionEmbeddings = maxPos,
            Rope = RopeParameters.FromConfig(config, headDim, maxPos),
            HiddenAct = act,
            QkvBias = type == "qwen2" || attentionBias,
            OutputBias = type != "qwen2" && attentionBias,
            MlpBias = type == "llama" && config.GetBool(false, "mlp_bias"),
            TieWordEmbeddings = config.GetBool(d.Tie, "tie_word_embeddings"),
            ScaleEmbeddings = type == "gemma",
            NormAddsOne = type == "gemma",
            FusedProjections = type == "phi3",
            SlidingWindows = SlidingWindowsOf(config, type, layers),
            EosTokenIds = config.GetIntList("eos_token_id"),
            BosTokenId = bos.Count > 0 ? bos[0] : null,
        };
        cfg.Validate(config);
        return cfg;
    }

    private static List<int?> SlidingWindowsOf(HfConfig config, string type, int layers)
    {
        // transformers writes every attribute, so an absent or null sliding_window means full attention.
        int? window = config.Has("sliding_window") ? config.GetInt(0, "sliding_window") : null;
        if (window is <= 0) window = null;
        if (type == "qwen2" && !config.GetBool(false, "use_sliding_window")) window = null;
        if (type == "gemma") window = null;
        var explicitTypes = ReadLayerTypes(config);
        var result = new List<int?>();
        int maxWindowLayers = config.GetInt(28, "max_window_layers");
        for (int i = 0; i < layers; i++)
        {
            bool sliding = explicitTypes is not null
                ? i < explicitTypes.Count && explicitTypes[i] == "sliding_attention"
                : type == "qwen2" ? window is not null && i >= maxWindowLayers : window is not null;
            if (sliding && window is null) throw config.Error($"layer {i} uses sliding attention but 'sliding_window' is not set");
            result.Add(sliding ? window : null);
        }

        return result;
    }

    private static List<string>? ReadLayerTypes(HfConfig config)
    {
        string? text = config.GetString("layer_types");
        if (text is null) return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            return [.. doc.RootElement.EnumerateArray().Select(e => e.GetString() ?? "")];
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw config.Error($"'layer_types' is not a list of strings: {e.Message}");
        }
    }

    private void Validate(HfConfig config)
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumLayers <= 0 || HeadDim <= 0 || MaxPositionEmbeddings <= 0)
        {
            throw config.Error("vocab_size, hidden_size, intermediate_size, num_hidden_layers, head_dim and max_position_embeddings must be positive");
        }

        if (HeadDim % 2 != 0) throw config.Error($"head_dim ({HeadDim}) must be even for rotary embeddings");
        ConfigLimits.TokenIds(config.Path, "eos_token_id", EosTokenIds);
        if (BosTokenId is int bos) ConfigLimits.TokenIds(config.Path, "bos_token_id", [bos]);
    }

    private sealed record Defaults(
        int Vocab, int Hidden, int Intermediate, int Layers, int Heads, int? KvHeads, double Eps, int MaxPos, string Act, bool Tie,
        int? HeadDim = null);
}
