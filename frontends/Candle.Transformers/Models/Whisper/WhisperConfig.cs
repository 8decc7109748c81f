using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Whisper;

/// <summary>The settings of a Whisper encoder-decoder, read from a Hugging Face <c>config.json</c> with transformers' defaults.</summary>
public sealed record WhisperConfig
{
    /// <summary>Number of token ids.</summary>
    public int VocabSize { get; init; } = 51865;

    /// <summary>Number of mel bins of the input features.</summary>
    public int NumMelBins { get; init; } = 80;

    /// <summary>Width of the hidden states.</summary>
    public int DModel { get; init; } = 384;

    /// <summary>Number of encoder layers.</summary>
    public int EncoderLayers { get; init; } = 4;

    /// <summary>Number of encoder attention heads.</summary>
    public int EncoderAttentionHeads { get; init; } = 6;

    /// <summary>Width of the encoder feed-forward layer.</summary>
    public int EncoderFfnDim { get; init; } = 1536;

    /// <summary>Number of decoder layers.</summary>
    public int DecoderLayers { get; init; } = 4;

    /// <summary>Number of decoder attention heads.</summary>
    public int DecoderAttentionHeads { get; init; } = 6;

    /// <summary>Width of the decoder feed-forward layer.</summary>
    public int DecoderFfnDim { get; init; } = 1536;

    /// <summary>The feed-forward activation (transformers' ACT2FN name).</summary>
    public string ActivationFunction { get; init; } = "gelu";

    /// <summary>Number of encoder positions (the encoder sees twice as many input frames).</summary>
    public int MaxSourcePositions { get; init; } = 1500;

    /// <summary>Number of decoder positions.</summary>
    public int MaxTargetPositions { get; init; } = 448;

    /// <summary>The token the decoder starts from.</summary>
    public int DecoderStartTokenId { get; init; } = 50257;

    /// <summary>The end-of-text token ids.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [50257];

    /// <summary>The padding token id.</summary>
    public int PadTokenId { get; init; } = 50256;

    /// <summary>Number of input frames the encoder expects: max_source_positions × conv1 stride (1) × conv2 stride (2).</summary>
    public int ExpectedFrames => MaxSourcePositions * 2;

    /// <summary>Reads the settings from a config, checking them.</summary>
    /// <exception cref="InvalidDataException">A value is invalid; the message names the file and the key.</exception>
    public static WhisperConfig FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var eos = config.GetIntList("eos_token_id");
        var c = new WhisperConfig
        {
            VocabSize = config.GetInt(51865, "vocab_size"),
            NumMelBins = config.GetInt(80, "num_mel_bins"),
            DModel = config.GetInt(384, "d_model"),
            EncoderLayers = config.GetInt(4, "encoder_layers"),
            EncoderAttentionHeads = config.GetInt(6, "encoder_attention_heads"),
            EncoderFfnDim = config.GetInt(1536, "encoder_ffn_dim"),
            DecoderLayers = config.GetInt(4, "decoder_layers"),
            DecoderAttentionHeads = config.GetInt(6, "decoder_attention_heads"),
            DecoderFfnDim = config.GetInt(1536, "decoder_ffn_dim"),
            ActivationFunction = config.GetString("activation_function") ?? "gelu",
            MaxSourcePositions = config.GetInt(1500, "max_source_positions"),
            MaxTargetPositions = config.GetInt(448, "max_target_positions"),
            DecoderStartTokenId = config.GetInt(50257, "decoder_start_token_id"),
            EosTokenIds = eos.Count > 0 ? eos : [50257],
            PadTokenId = config.GetInt(50256, "pad_token_id"),
        };
        c.Validate(config.Path);
        return c;
    }

    /// <summary>Checks the values.</summary>
    /// <exception cref="InvalidDataException">A value is invalid.</exception>
    public void Validate(string source = "WhisperConfig")
    {
        BertConfig.Positive(source, "vocab_size", VocabSize);
        BertConfig.Positive(source, "num_mel_bins", NumMelBins);
        BertConfig.Positive(source, "d_model", DModel);
        ConfigLimits.Layers(source, "encoder_layers", EncoderLayers, minimum: 0);
        BertConfig.Positive(source, "encoder_attention_heads", EncoderAttentionHeads);
        BertConfig.Positive(source, "encoder_ffn_dim", EncoderFfnDim);
        ConfigLimits.Layers(source, "decoder_layers", DecoderLayers, minimum: 0);
        BertConfig.Positive(source, "decoder_attention_heads", DecoderAttentionHeads);
        BertConfig.Positive(source, "decoder_ffn_dim", DecoderFfnDim);
        BertConfig.Positive(source, "max_source_positions", MaxSourcePositions);
        BertConfig.Positive(source, "max_target_positions", MaxTargetPositions);
        if (DModel % EncoderAttentionHeads != 0)
        {
            throw new InvalidDataException($"{source}: d_model {DModel} is not a multiple of encoder_attention_heads {EncoderAttentionHeads}");
        }

        if (DModel % DecoderAttentionHeads != 0)
        {
            throw new InvalidDataException($"{source}: d_model {DModel} is not a multiple of decoder_attention_heads {DecoderAttentionHeads}");
        }

        Activations.Check(ActivationFunction, source, "activation_function");
        ConfigLimits.TokenIds(source, "eos_token_id", EosTokenIds);
        ConfigLimits.TokenIds(source, "decoder_start_token_id", [DecoderStartTokenId]);
    }
}
