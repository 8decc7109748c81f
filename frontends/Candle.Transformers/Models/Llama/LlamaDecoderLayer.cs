using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Llama;

/// <summary>A pre-norm decoder layer: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class LlamaDecoderLayer : Module
{
    /// <summary>Reads layer <paramref name="layer"/> under <paramref name="prefix"/>.</summary>
    public LlamaDecoderLayer(CheckpointWeights weights, string prefix, LlamaConfig config, int layer)
    {
        ArgumentNullException.ThrowIfNull(config);
        SlidingWindow = config.SlidingWindows[layer];
        SelfAttn = RegisterModule("self_attn", new LlamaAttention(weights, prefix + ".self_attn", config, layer));
        Mlp = RegisterModule("mlp", new GatedMlp(weights, prefix + ".mlp", config.HiddenSize, config.IntermediateSize, config.HiddenAct, config.MlpBias, config.FusedProjections));
        InputLayernorm = RegisterModule("input_layernorm", new RmsNormLayer(weights, prefix + ".input_layernorm", config.HiddenSize, config.RmsNormEps, config.NormAddsOne));
        PostAttentionLayernorm = RegisterModule(
            "post_attention_layernorm", new RmsNormLayer(weights, prefix + ".post_attention_layernorm", config.HiddenSize, config.RmsNormEps, config.NormAddsOne));
    }

    /// <summary>The sliding attention window of this layer, or null for full attention.</summary>
    public int? SlidingWindow { get; }

    /// <summary>Self-attention.</summary>
    public LlamaAttention SelfAttn { get; }

    /// <summary>The MLP.</summary>
    public GatedMlp Mlp { get; }

    /// <summary>The norm before attention.</summary>
    public RmsNormLayer InputLayernorm { get; }

    /// <summary>The norm before the MLP.</summary>
    public RmsNormLayer PostAttentionLayernorm { get; }

    /// <summary>Runs the layer on [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor x, RotaryEmbedding rope, Tensor cos, Tensor sin, Tensor? keepMask, CacheStep cache)
    {
        var h = x + SelfAttn.Forward(InputLayernorm.Forward(x), rope, cos, sin, keepMask, cache);
        return h + Mlp.Forward(PostAttentionLayernorm.Forward(h));
    }
}
