using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// One pre-layer-norm decoder layer: causal self-attention, cross-attention to the encoder, feed-forward
/// (transformers' WhisperDecoderLayer).
/// </summary>
public sealed class WhisperDecoderLayer : Module
{
    private readonly string _act;

    /// <summary>Creates the layer.</summary>
    public WhisperDecoderLayer(WhisperConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        _act = config.ActivationFunction;
        SelfAttn = RegisterModule("self_attn", new WhisperAttention(config.DModel, config.DecoderAttentionHeads, dtype));
        SelfAttnLayerNorm = RegisterModule("self_attn_layer_norm", new LayerNorm(config.DModel, dtype: dtype));
        EncoderAttn = RegisterModule("encoder_attn", new WhisperAttention(config.DModel, config.DecoderAttentionHeads, dtype));
        EncoderAttnLayerNorm = RegisterModule("encoder_attn_layer_norm", new LayerNorm(config.DModel, dtype: dtype));
        Fc1 = RegisterModule("fc1", new Linear(config.DModel, config.DecoderFfnDim, true, dtype));
        Fc2 = RegisterModule("fc2", new Linear(config.DecoderFfnDim, config.DModel, true, dtype));
        FinalLayerNorm = RegisterModule("final_layer_norm", new LayerNorm(config.DModel, dtype: dtype));
    }

    /// <summary>self_attn.</summary>
    public WhisperAttention SelfAttn { get; }

    /// <summary>self_attn_layer_norm.</summary>
    public LayerNorm SelfAttnLayerNorm { get; }

    /// <summary>encoder_attn (cross-attention).</summary>
    public WhisperAttention EncoderAttn { get; }

    /// <summary>encoder_attn_layer_norm.</summary>
    public LayerNorm EncoderAttnLayerNorm { get; }

    /// <summary>fc1.</summary>
    public Linear Fc1 { get; }

    /// <summary>fc2.</summary>
    public Linear Fc2 { get; }

    /// <summary>final_layer_norm.</summary>
    public LayerNorm FinalLayerNorm { get; }

    /// <summary>
    /// The layer on [batch, seq, embed] states. <paramref name="crossKeys"/> and <paramref name="crossValues"/> are the
    /// encoder states projected by <see cref="EncoderAttn"/> ([batch, heads, enc_seq, head_dim]); self-attention
    /// attends to the keys and values <paramref name="cache"/> returns for this step's (the cached ones, then these).
    /// </summary>
    /// <returns>The new states.</returns>
    public Tensor Forward(Tensor hidden, Tensor crossKeys, Tensor crossValues, CacheStep cache, int layer)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(cache);
        var x = SelfAttnLayerNorm.Forward(hidden);
        var (k, v) = SelfAttn.KeyValue(x);
        var (keys, values) = cache.Update(layer, k, v);
        var h = hidden + SelfAttn.Attend(x, keys, values, causal: true);
        h = h + EncoderAttn.Attend(EncoderAttnLayerNorm.Forward(h), crossKeys, crossValues, causal: false);
        h = h + Fc2.Forward(Activations.Apply(_act, Fc1.Forward(FinalLayerNorm.Forward(h))));
        return h;
    }
}
