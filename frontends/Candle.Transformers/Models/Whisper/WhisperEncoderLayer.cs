using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Whisper;

/// <summary>One pre-layer-norm encoder layer: self-attention, then feed-forward (transformers' WhisperEncoderLayer).</summary>
public sealed class WhisperEncoderLayer : Module<Tensor, Tensor>
{
    private readonly string _act;

    /// <summary>Creates the layer.</summary>
    public WhisperEncoderLayer(WhisperConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        _act = config.ActivationFunction;
        SelfAttn = RegisterModule("self_attn", new WhisperAttention(config.DModel, config.EncoderAttentionHeads, dtype));
        SelfAttnLayerNorm = RegisterModule("self_attn_layer_norm", new LayerNorm(config.DModel, dtype: dtype));
        Fc1 = RegisterModule("fc1", new Linear(config.DModel, config.EncoderFfnDim, true, dtype));
        Fc2 = RegisterModule("fc2", new Linear(config.EncoderFfnDim, config.DModel, true, dtype));
        FinalLayerNorm = RegisterModule("final_layer_norm", new LayerNorm(config.DModel, dtype: dtype));
    }

    /// <summary>self_attn.</summary>
    public WhisperAttention SelfAttn { get; }

    /// <summary>self_attn_layer_norm.</summary>
    public LayerNorm SelfAttnLayerNorm { get; }

    /// <summary>fc1.</summary>
    public Linear Fc1 { get; }

    /// <summary>fc2.</summary>
    public Linear Fc2 { get; }

    /// <summary>final_layer_norm.</summary>
    public LayerNorm FinalLayerNorm { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var h = input + SelfAttn.SelfAttend(SelfAttnLayerNorm.Forward(input));
        return h + Fc2.Forward(Activations.Apply(_act, Fc1.Forward(FinalLayerNorm.Forward(h))));
    }
}
