using Candle.Runtime;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Whisper;

/// <summary>The encoder and decoder (transformers' WhisperModel).</summary>
public sealed class WhisperModel : Module
{
    /// <summary>Creates the model.</summary>
    public WhisperModel(WhisperConfig config, DType dtype = DType.F32)
    {
        Encoder = RegisterModule("encoder", new WhisperEncoder(config, dtype));
        Decoder = RegisterModule("decoder", new WhisperDecoder(config, dtype));
    }

    /// <summary>encoder.</summary>
    public WhisperEncoder Encoder { get; }

    /// <summary>decoder.</summary>
    public WhisperDecoder Decoder { get; }
}
