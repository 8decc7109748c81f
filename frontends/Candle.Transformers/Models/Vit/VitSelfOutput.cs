using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Vit;

/// <summary>The projection after attention; the residual is added by the layer (transformers' ViTSelfOutput).</summary>
public sealed class VitSelfOutput : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public VitSelfOutput(int hiddenSize, DType dtype = DType.F32) => Dense = RegisterModule("dense", new Linear(hiddenSize, hiddenSize, true, dtype));

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Dense.Forward(input);
}
