using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// The audio encoder: two convolutions with GELU (the second halves the frames), the stored sinusoidal position
/// embeddings, pre-layer-norm layers and a final layer norm (transformers' WhisperEncoder).
/// </summary>
public sealed class WhisperEncoder : Module<Tensor, Tensor>
{
    private readonly WhisperConfig _config;

    /// <summary>Creates the encoder.</summary>
    public WhisperEncoder(WhisperConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        Conv1 = RegisterModule("conv1", new Conv1d(config.NumMelBins, config.DModel, 3, padding: 1, dtype: dtype));
        Conv2 = RegisterModule("conv2", new Conv1d(config.DModel, config.DModel, 3, stride: 2, padding: 1, dtype: dtype));
        EmbedPositions = RegisterModule("embed_positions", new Embedding(config.MaxSourcePositions, config.DModel, dtype));
        Layers = RegisterModule("layers", new ModuleList<WhisperEncoderLayer>(Enumerable.Range(0, config.EncoderLayers).Select(_ => new WhisperEncoderLayer(config, dtype))));
        LayerNorm = RegisterModule("layer_norm", new LayerNorm(config.DModel, dtype: dtype));
    }

    /// <summary>conv1 (kernel 3, padding 1).</summary>
    public Conv1d Conv1 { get; }

    /// <summary>conv2 (kernel 3, stride 2, padding 1).</summary>
    public Conv1d Conv2 { get; }

    /// <summary>embed_positions (the sinusoids, stored as weights).</summary>
    public Embedding EmbedPositions { get; }

    /// <summary>layers.</summary>
    public ModuleList<WhisperEncoderLayer> Layers { get; }

    /// <summary>layer_norm.</summary>
    public LayerNorm LayerNorm { get; }

    /// <summary>[batch, num_mel_bins, 2·max_source_positions] features → [batch, max_source_positions, d_model].</summary>
    /// <exception cref="ArgumentException">The features have another shape (the message gives both).</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Shape[1] != _config.NumMelBins || input.Shape[2] != _config.ExpectedFrames)
        {
            throw new ArgumentException(
                $"input_features must be [batch, {_config.NumMelBins}, {_config.ExpectedFrames}] (num_mel_bins, 2·max_source_positions), got {input.TypeString}",
                nameof(input));
        }

        var x = Conv2.Forward(Conv1.Forward(input).Gelu()).Gelu().Transpose(1, 2);
        var h = x + EmbedPositions.Weight;
        foreach (var l in Layers) h = l.Forward(h);
        return LayerNorm.Forward(h);
    }
}
