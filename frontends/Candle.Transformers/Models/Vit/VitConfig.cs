using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Vit;

/// <summary>The settings of a Vision Transformer, read from a Hugging Face <c>config.json</c> with transformers' defaults.</summary>
public sealed record VitConfig
{
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

    /// <summary>Epsilon of every layer norm.</summary>
    public double LayerNormEps { get; init; } = 1e-12;

    /// <summary>Height and width of the input images.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>Height and width of one patch.</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>Number of image channels.</summary>
    public int NumChannels { get; init; } = 3;

    /// <summary>Whether the query, key and value projections have biases.</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>Number of classes of the classification head (from <c>num_labels</c> or <c>id2label</c>); 0 means no classifier (logits are the [CLS] state).</summary>
    public int NumLabels { get; init; } = 2;

    /// <summary>Width of the pooler output (defaults to <see cref="HiddenSize"/>).</summary>
    public int PoolerOutputSize { get; init; } = 768;

    /// <summary>The pooler activation (transformers' ACT2FN name).</summary>
    public string PoolerAct { get; init; } = "tanh";

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Number of patches along each side of the image.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Number of patches of an image.</summary>
    public int NumPatches => PatchesPerSide * PatchesPerSide;

    /// <summary>Reads the settings from a config, checking them.</summary>
    /// <exception cref="InvalidDataException">A value is invalid; the message names the file and the key.</exception>
    public static VitConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int hidden = config.GetInt(768, "hidden_size");
        int labels = config.Has("num_labels") ? config.GetInt(2, "num_labels") : config.GetObject("id2label") is { } map ? CountKeys(map) : 2;
        var c = new VitConfig
        {
            HiddenSize = hidden,
            NumHiddenLayers = config.GetInt(12, "num_hidden_layers"),
            NumAttentionHeads = config.GetInt(12, "num_attention_heads"),
            IntermediateSize = config.GetInt(3072, "intermediate_size"),
            HiddenAct = config.GetString("hidden_act") ?? "gelu",
            LayerNormEps = config.GetPositiveDouble(1e-12, "layer_norm_eps"),
            ImageSize = config.GetInt(224, "image_size"),
            PatchSize = config.GetInt(16, "patch_size"),
            NumChannels = config.GetInt(3, "num_channels"),
            QkvBias = config.GetBool(true, "qkv_bias"),
            NumLabels = labels,
            PoolerOutputSize = config.GetInt(hidden, "pooler_output_size"),
            PoolerAct = config.GetString("pooler_act") ?? "tanh",
        };
        c.Validate(config.Path);
        return c;
    }

    /// <summary>Checks the values.</summary>
    /// <exception cref="InvalidDataException">A value is invalid.</exception>
    public void Validate(string source = "VitConfig")
    {
        BertConfig.Positive(source, "hidden_size", HiddenSize);
        ConfigLimits.Layers(source, "num_hidden_layers", NumHiddenLayers, minimum: 0);
        BertConfig.Positive(source, "num_attention_heads", NumAttentionHeads);
        BertConfig.Positive(source, "intermediate_size", IntermediateSize);
        BertConfig.Positive(source, "image_size", ImageSize);
        BertConfig.Positive(source, "patch_size", PatchSize);
        BertConfig.Positive(source, "num_channels", NumChannels);
        BertConfig.Positive(source, "num_labels", NumLabels, allowZero: true);
        BertConfig.Positive(source, "pooler_output_size", PoolerOutputSize);
        if (HiddenSize % NumAttentionHeads != 0)
        {
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        }

        if (ImageSize % PatchSize != 0)
        {
            throw new InvalidDataException($"{source}: image_size {ImageSize} is not a multiple of patch_size {PatchSize}");
        }

        Activations.Check(HiddenAct, source, "hidden_act");
        Activations.Check(PoolerAct, source, "pooler_act");
    }

    private static int CountKeys(HfConfig map)
    {
        int n = 0;
        while (map.Has(n.ToString(System.Globalization.CultureInfo.InvariantCulture))) n++;
        return Math.Max(n, 1);
    }
}
