using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Vit;

/// <summary>The stack of encoder layers (transformers' ViTEncoder).</summary>
public sealed class VitEncoder : Module<Tensor, Tensor>
{
    /// <summary>Creates the stack.</summary>
    public VitEncoder(VitConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Layer = RegisterModule("layer", new ModuleList<VitLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new VitLayer(config, dtype))));
    }

    /// <summary>layer.</summary>
    public ModuleList<VitLayer> Layer { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        foreach (var l in Layer) input = l.Forward(input);
        return input;
    }
}
