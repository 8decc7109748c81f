using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Bert;

/// <summary>The feed-forward expansion with its activation (transformers' BertIntermediate).</summary>
public sealed class BertIntermediate : Module<Tensor, Tensor>
{
    private readonly string _act;

    /// <summary>Creates the layer.</summary>
    public BertIntermediate(int hiddenSize, int intermediateSize, string act, DType dtype = DType.F32)
    {
        _act = act;
        Dense = RegisterModule("dense", new Linear(hiddenSize, intermediateSize, true, dtype));
    }

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Activations.Apply(_act, Dense.Forward(input));
}
