using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>Self-attention followed by its output block (transformers' BertAttention).</summary>
public sealed class BertAttention : Module
{
    /// <summary>Creates the layer.</summary>
    public BertAttention(BertConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Self = RegisterModule("self", new BertSelfAttention(config.HiddenSize, config.NumAttentionHeads, true, dtype, config.AttnImplementation));
        Output = RegisterModule("output", new BertSelfOutput(config.HiddenSize, config.LayerNormEps, dtype));
    }

    /// <summary>self.</summary>
    public BertSelfAttention Self { get; }

    /// <summary>output.</summary>
    public BertSelfOutput Output { get; }

    /// <summary>The attention block on [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor hidden, Tensor? bias) => Output.Forward(Self.Forward(hidden, bias), hidden);
}
