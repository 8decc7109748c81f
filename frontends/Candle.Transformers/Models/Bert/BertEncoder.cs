using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>The stack of encoder layers (transformers' BertEncoder).</summary>
public sealed class BertEncoder : Module
{
    /// <summary>Creates the stack.</summary>
    public BertEncoder(BertConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Layer = RegisterModule("layer", new ModuleList<BertLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config, dtype))));
    }

    /// <summary>layer.</summary>
    public ModuleList<BertLayer> Layer { get; }

    /// <summary>Runs every layer.</summary>
    public Tensor Forward(Tensor hidden, Tensor? bias)
    {
        foreach (var l in Layer) hidden = l.Forward(hidden, bias);
        return hidden;
    }
}
