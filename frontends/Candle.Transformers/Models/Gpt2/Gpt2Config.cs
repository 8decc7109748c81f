using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Gpt2;

/// <summary>The settings of a GPT-2 model, read from a Hugging Face config with transformers' defaults and aliases.</summary>
public sealed record Gpt2Config
{
    /// <summary>Vocabulary size.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Model width (<c>n_embd</c>).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of blocks (<c>n_layer</c>).</summary>
    public required int NumLayers { get; init; }

    /// <summary>Number of heads (<c>n_head</c>).</summary>
    public required int NumHeads { get; init; }

    /// <summary>Learned positions (<c>n_positions</c>).</summary>
    public required int MaxPositions { get; init; }

    /// <summary>MLP width (<c>n_inner</c>, default 4 × n_embd).</summary>
    public required int InnerSize { get; init; }

    /// <summary>The MLP activation (<c>activation_function</c>).</summary>
    public required string Activation { get; init; }

    /// <summary>Layer norm epsilon.</summary>
    public required double LayerNormEps { get; init; }

    /// <summary>Whether attention scores are divided by √head_dim.</summary>
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary>Whether attention scores of layer i are also divided by i + 1.</summary>
    public bool ScaleAttnByInverseLayerIdx { get; init; }

    /// <summary>Whether the LM head is the token embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>End-of-sequence token ids.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>Size of each head.</summary>
    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>Reads the config.</summary>
    /// <exception cref="InvalidDataException">A value is inconsistent; the message names the file and key.</exception>
    public static Gpt2Config FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int hidden = config.GetInt(768, "n_embd", "hidden_size");
        int heads = config.GetInt(12, "n_head", "num_attention_heads");
        if (hidden <= 0 || heads <= 0 || hidden % heads != 0) throw config.Error($"n_embd ({hidden}) must be a positive multiple of n_head ({heads})");
        var c = new Gpt2Config
        {
            VocabSize = config.GetInt(50257, "vocab_size"),
            HiddenSize = hidden,
            NumLayers = ConfigLimits.Layers(config.Path, "n_layer", config.GetInt(12, "n_layer", "num_hidden_layers")),
            NumHeads = heads,
            MaxPositions = config.GetInt(1024, "n_positions", "max_position_embeddings"),
            InnerSize = config.GetInt(hidden <= int.MaxValue / 4 ? 4 * hidden : -1, "n_inner"),
            Activation = config.GetString("activation_function") ?? "gelu_new",
            LayerNormEps = config.GetPositiveDouble(1e-5, "layer_norm_epsilon"),
            ScaleAttnWeights = config.GetBool(true, "scale_attn_weights"),
            ScaleAttnByInverseLayerIdx = config.GetBool(false, "scale_attn_by_inverse_layer_idx"),
            TieWordEmbeddings = config.GetBool(true, "tie_word_embeddings"),
            EosTokenIds = config.GetIntList("eos_token_id"),
        };
        if (c.VocabSize <= 0 || c.NumLayers <= 0 || c.MaxPositions <= 0 || c.InnerSize <= 0)
        {
            throw config.Error("vocab_size, n_layer, n_positions and n_inner must be positive");
        }

        ConfigLimits.TokenIds(config.Path, "eos_token_id", c.EosTokenIds);

        return c;
    }
}
