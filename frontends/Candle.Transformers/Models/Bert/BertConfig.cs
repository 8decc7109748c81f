using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Bert;

/// <summary>The settings of a BERT encoder, read from a Hugging Face <c>config.json</c> with transformers' defaults.</summary>
public sealed record BertConfig
{
    /// <summary>Number of token ids.</summary>
    public int VocabSize { get; init; } = 30522;

    /// <summary>Width of the hidden states.</summary>
    public int HiddenSize { get; init; } = 768;

    /// <summary>Number of encoder layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Number of attention heads (must divide <see cref="HiddenSize"/>).</summary>
    public int NumAttentionHeads { get; init; } = 12;

    /// <summary>Width of the feed-forward layer.</summary>
    public int IntermediateSize { get; init; } = 3072;

    /// <summary>The feed-forward activation (transformers' ACT2FN name).</summary>
    public string HiddenAct { get; init; } = "gelu";

    /// <summary>Number of learned absolute positions.</summary>
    public int MaxPositionEmbeddings { get; init; } = 512;

    /// <summary>Number of token types (segments).</summary>
    public int TypeVocabSize { get; init; } = 2;

    /// <summary>Epsilon of every layer norm.</summary>
    public double LayerNormEps { get; init; } = 1e-12;

    /// <summary>The padding token id.</summary>
    public int PadTokenId { get; init; }

    /// <summary>The position embedding type; only <c>absolute</c> is supported.</summary>
    public string PositionEmbeddingType { get; init; } = "absolute";

    /// <summary>How attention is traced: <c>sdpa</c> (one attention op, the default) or <c>eager</c> (see <see cref="AttentionImplementation"/>).</summary>
    public string AttnImplementation { get; init; } = AttentionImplementation.Sdpa;

    /// <summary>
    /// Number of labels of a task head (BertForSequenceClassification, BertForTokenClassification): the size of
    /// <c>id2label</c> when the config has one, else <c>num_labels</c>, else 2, as transformers' PretrainedConfig.
    /// </summary>
    public int NumLabels { get; init; } = 2;

    /// <summary>
    /// The sequence classifier's loss (<c>problem_type</c>: one of <see cref="BertProblemType"/>'s names), or null to
    /// let the labels decide as transformers does.
    /// </summary>
    public string? ProblemType { get; init; }

    /// <summary>
    /// The drop probability of a classification head's dropout (<c>classifier_dropout</c>, else
    /// <c>hidden_dropout_prob</c>). Modules here have no training mode, so dropout is the identity in training too.
    /// </summary>
    public double ClassifierDropout { get; init; } = 0.1;

    /// <summary>Whether a masked-LM decoder shares the word embeddings (<c>tie_word_embeddings</c>).</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Reads the settings from a config, checking them.</summary>
    /// <exception cref="InvalidDataException">A value is invalid; the message names the file and the key.</exception>
    /// <exception cref="NotSupportedException">The config asks for a variant that is not implemented.</exception>
    public static BertConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = new BertConfig
        {
            VocabSize = config.GetInt(30522, "vocab_size"),
            HiddenSize = config.GetInt(768, "hidden_size"),
            NumHiddenLayers = config.GetInt(12, "num_hidden_layers"),
            NumAttentionHeads = config.GetInt(12, "num_attention_heads"),
            IntermediateSize = config.GetInt(3072, "intermediate_size"),
            HiddenAct = config.GetString("hidden_act") ?? "gelu",
            MaxPositionEmbeddings = config.GetInt(512, "max_position_embeddings"),
            TypeVocabSize = config.GetInt(2, "type_vocab_size"),
            LayerNormEps = config.GetPositiveDouble(1e-12, "layer_norm_eps"),
            PadTokenId = config.GetInt(0, "pad_token_id"),
            PositionEmbeddingType = config.GetString("position_embedding_type") ?? "absolute",
            AttnImplementation = config.GetString("attn_implementation", "_attn_implementation") ?? AttentionImplementation.Sdpa,
            NumLabels = config.GetObject("id2label") is { } labels ? labels.Keys.Count : config.GetInt(2, "num_labels"),
            ProblemType = config.GetString("problem_type"),
            ClassifierDropout = config.GetDouble(config.GetDouble(0.1, "hidden_dropout_prob"), "classifier_dropout"),
            TieWordEmbeddings = config.GetBool(true, "tie_word_embeddings"),
        };
        c.Validate(config.Path);
        return c;
    }

    /// <summary>Checks the values.</summary>
    /// <exception cref="InvalidDataException">A value is invalid.</exception>
    /// <exception cref="NotSupportedException">An unsupported variant.</exception>
    public void Validate(string source = "BertConfig")
    {
        Positive(source, "vocab_size", VocabSize);
        Positive(source, "hidden_size", HiddenSize);
        ConfigLimits.Layers(source, "num_hidden_layers", NumHiddenLayers, minimum: 0);
        Positive(source, "num_attention_heads", NumAttentionHeads);
        Positive(source, "intermediate_size", IntermediateSize);
        Positive(source, "max_position_embeddings", MaxPositionEmbeddings);
        Positive(source, "type_vocab_size", TypeVocabSize);
        if (!(LayerNormEps > 0) || !double.IsFinite(LayerNormEps)) throw new InvalidDataException($"{source}: 'layer_norm_eps' must be a finite number > 0, got {LayerNormEps}");
        if (HiddenSize % NumAttentionHeads != 0)
        {
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        }

        if (PositionEmbeddingType != "absolute")
        {
            throw new NotSupportedException($"{source}: position_embedding_type '{PositionEmbeddingType}' is not supported (only 'absolute')");
        }

        Positive(source, "num_labels", NumLabels, allowZero: true);
        if (!(ClassifierDropout is >= 0 and <= 1)) throw new InvalidDataException($"{source}: 'classifier_dropout' (or 'hidden_dropout_prob') must be in [0, 1], got {ClassifierDropout}");
        if (ProblemType is not null && !BertProblemType.All.Contains(ProblemType, StringComparer.Ordinal))
        {
            throw new InvalidDataException($"{source}: 'problem_type' is '{ProblemType}'; transformers knows {string.Join(", ", BertProblemType.All)}");
        }

        Activations.Check(HiddenAct, source, "hidden_act");
        if (AttnImplementation is not (AttentionImplementation.Sdpa or AttentionImplementation.Eager))
        {
            throw new NotSupportedException($"{source}: attn_implementation '{AttnImplementation}' is not supported (sdpa or eager)");
        }
    }

    /// <summary>Checks that a classification head has labels.</summary>
    /// <exception cref="InvalidDataException"><see cref="NumLabels"/> is 0; the message names the source and the head.</exception>
    internal void RequireLabels(string source, string head)
    {
        if (NumLabels < 1) throw new InvalidDataException($"{source}: {head} needs 'num_labels' (or 'id2label') of at least 1, got {NumLabels}");
    }

    internal static void Positive(string source, string key, int value, bool allowZero = false)
    {
        if (value < 0 || (value == 0 && !allowZero)) throw new InvalidDataException($"{source}: '{key}' must be {(allowZero ? "≥ 0" : "> 0")}, got {value}");
    }
}
