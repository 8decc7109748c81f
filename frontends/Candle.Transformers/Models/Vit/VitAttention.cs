using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

namespace Candle.Transformers.Models.Vit;

/// <summary>Unmasked multi-head self-attention and its projection (transformers' ViTAttention).</summary>
public sealed class VitAttention : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public VitAttention(VitConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Attention = RegisterModule("attention", new BertSelfAttention(config.HiddenSize, config.NumAttentionHeads, config.QkvBias, dtype));
        Output = RegisterModule("output", new VitSelfOutput(config.HiddenSize, dtype));
    }

    /// <summary>attention (query, key, value).</summary>
    public BertSelfAttention Attention { get; }

    /// <summary>output.</summary>
    public VitSelfOutput Output { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Output.Forward(Attention.Forward(input, null));
}
