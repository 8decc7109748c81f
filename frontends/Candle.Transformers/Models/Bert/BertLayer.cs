using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>One post-layer-norm encoder layer: attention, then feed-forward (transformers' BertLayer).</summary>
public sealed class BertLayer : Module
{
    /// <summary>Creates the layer.</summary>
    public BertLayer(BertConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Attention = RegisterModule("attention", new BertAttention(config, dtype));
        Intermediate = RegisterModule("intermediate", new BertIntermediate(config.HiddenSize, config.IntermediateSize, config.HiddenAct, dtype));
        Output = RegisterModule("output", new BertOutput(config.IntermediateSize, config.HiddenSize, config.LayerNormEps, dtype));
    }

    /// <summary>attention.</summary>
    public BertAttention Attention { get; }

    /// <summary>intermediate.</summary>
    public BertIntermediate Intermediate { get; }

    /// <summary>output.</summary>
    public BertOutput Output { get; }

    /// <summary>The layer on [batch, seq, hidden] with an additive attention bias.</summary>
    public Tensor Forward(Tensor hidden, Tensor? bias)
    {
        var a = Attention.Forward(hidden, bias);
        return Output.Forward(Intermediate.Forward(a), a);
    }
}
