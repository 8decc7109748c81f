using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Llama;

/// <summary>
/// Grouped-query self-attention of Llama-family models: q/k/v projections (separate, or Phi-3's fused
/// <c>qkv_proj</c>), rotary embedding, causal attention over the cached and new keys (optionally within a sliding
/// window), and the output projection.
/// </summary>
public sealed class LlamaAttention : Module
{
    private readonly LlamaConfig _config;
    private readonly int _layer;

    /// <summary>Reads layer <paramref name="layer"/>'s attention weights under <paramref name="prefix"/>.</summary>
    public LlamaAttention(CheckpointWeights weights, string prefix, LlamaConfig config, int layer)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        _layer = layer;
        int h = config.HiddenSize, q = config.NumHeads * config.HeadDim, kv = config.NumKvHeads * config.HeadDim;
        if (config.FusedProjections)
        {
            QkvProj = RegisterModule("qkv_proj", new LinearLayer(weights, prefix + ".qkv_proj", h, q + (2 * kv), config.QkvBias));
        }
        else
        {
            QProj = RegisterModule("q_proj", new LinearLayer(weights, prefix + ".q_proj", h, q, config.QkvBias));
            KProj = RegisterModule("k_proj", new LinearLayer(weights, prefix + ".k_proj", h, kv, config.QkvBias));
            VProj = RegisterModule("v_proj", new LinearLayer(weights, prefix + ".v_proj", h, kv, config.QkvBias));
        }

        OProj = RegisterModule("o_proj", new LinearLayer(weights, prefix + ".o_proj", q, h, config.OutputBias));
    }

    /// <summary>The query projection (separate form).</summary>
    public LinearLayer? QProj { get; }

    /// <summary>The key projection (separate form).</summary>
    public LinearLayer? KProj { get; }

    /// <summary>The value projection (separate form).</summary>
    public LinearLayer? VProj { get; }

    /// <summary>The fused query/key/value projection (Phi-3 form).</summary>
    public LinearLayer? QkvProj { get; }

    /// <summary>The output projection.</summary>
    public LinearLayer OProj { get; }

    /// <summary>Attends <paramref name="x"/> [batch, seq, hidden]; <paramref name="keepMask"/> is the sliding-window mask or null.</summary>
    public Tensor Forward(Tensor x, RotaryEmbedding rope, Tensor cos, Tensor sin, Tensor? keepMask, CacheStep cache)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rope);
        ArgumentNullException.ThrowIfNull(cache);
        var b = x.Shape[0];
        var s = x.Shape[1];
        int heads = _config.NumHeads, kvHeads = _config.NumKvHeads, d = _config.HeadDim;
        Tensor q, k, v;
        if (QkvProj is not null)
        {
            var qkv = QkvProj.Forward(x);
            q = qkv.Narrow(-1, 0, heads * d);
            k = qkv.Narrow(-1, heads * d, kvHeads * d);
            v = qkv.Narrow(-1, (heads + kvHeads) * d, kvHeads * d);
        }
        else
        {
            q = QProj!.Forward(x);
            k = KProj!.Forward(x);
            v = VProj!.Forward(x);
        }

        q = rope.Apply(q.View(b, s, heads, d).Transpose(1, 2), cos, sin);
        k = rope.Apply(k.View(b, s, kvHeads, d).Transpose(1, 2), cos, sin);
        v = v.View(b, s, kvHeads, d).Transpose(1, 2);
        (k, v) = cache.Update(_layer, k, v);
        if (cache.PaddingMask is { } padding) keepMask = keepMask is null ? padding : keepMask & padding;
        var attn = F.ScaledDotProductAttention(q, k, v, keepMask, isCausal: true, scale: 1.0 / Math.Sqrt(d), enableGqa: true);
        return OProj.Forward(attn.Transpose(1, 2).Reshape(b, s, heads * d));
    }
}
