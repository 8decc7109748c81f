using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

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
    /// encoder states projected by <see cref="EncoderAttn"/> ([batch, heads, enc_seq, head_dim]); the optional past
    /// keys and values ([batch, heads, past, head_dim]) precede this step's.
    /// </summary>
    /// <returns>The new states and this step's own keys and values ([batch, heads, seq, head_dim]).</returns>
    public (Tensor Hidden, Tensor NewKeys, Tensor NewValues) Forward(Tensor hidden, Tensor crossKeys, Tensor crossValues, Tensor? pastKeys, Tensor? pastValues)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        var x = SelfAttnLayerNorm.Forward(hidden);
        var (k, v) = SelfAttn.KeyValue(x);
        var keys = pastKeys is null ? k : Tensors.Cat([pastKeys, k], 2);
        var values = pastValues is null ? v : Tensors.Cat([pastValues, v], 2);
        var h = hidden + SelfAttn.Attend(x, keys, values, causal: true);
        h = h + EncoderAttn.Attend(EncoderAttnLayerNorm.Forward(h), crossKeys, crossValues, causal: false);
        h = h + Fc2.Forward(Activations.Apply(_act, Fc1.Forward(FinalLayerNorm.Forward(h))));
        return (h, k, v);
    }
}
