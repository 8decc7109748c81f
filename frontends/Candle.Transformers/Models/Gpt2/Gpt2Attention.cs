using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Gpt2;

/// <summary>GPT-2 causal self-attention: a fused Conv1D <c>c_attn</c> (weight [in, 3·in]) and the Conv1D <c>c_proj</c>.</summary>
public sealed class Gpt2Attention : Module
{
    private readonly Gpt2Config _config;
    private readonly int _layer;

    /// <summary>Reads block <paramref name="layer"/>'s attention under <paramref name="prefix"/>.</summary>
    public Gpt2Attention(CheckpointWeights weights, string prefix, Gpt2Config config, int layer)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        _layer = layer;
        int h = config.HiddenSize;
        CAttn = RegisterModule("c_attn", new LinearLayer(weights, prefix + ".c_attn", h, 3 * h, bias: true, transposed: true));
        CProj = RegisterModule("c_proj", new LinearLayer(weights, prefix + ".c_proj", h, h, bias: true, transposed: true));
    }

    /// <summary>The fused query/key/value projection.</summary>
    public LinearLayer CAttn { get; }

    /// <summary>The output projection.</summary>
    public LinearLayer CProj { get; }

    /// <summary>Attends x [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor x, CacheStep cache)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(cache);
        var b = x.Shape[0];
        var s = x.Shape[1];
        int h = _config.HiddenSize, heads = _config.NumHeads, d = _config.HeadDim;
        var qkv = CAttn.Forward(x);
        var q = qkv.Narrow(-1, 0, h).View(b, s, heads, d).Transpose(1, 2);
        var k = qkv.Narrow(-1, h, h).View(b, s, heads, d).Transpose(1, 2);
        var v = qkv.Narrow(-1, 2 * h, h).View(b, s, heads, d).Transpose(1, 2);
        (k, v) = cache.Update(_layer, k, v);
        double scale = _config.ScaleAttnWeights ? 1.0 / Math.Sqrt(d) : 1.0;
        if (_config.ScaleAttnByInverseLayerIdx) scale /= _layer + 1;
        var attn = F.ScaledDotProductAttention(q, k, v, cache.PaddingMask, isCausal: true, scale: scale);
        return CProj.Forward(attn.Transpose(1, 2).Reshape(b, s, h));
    }
}
