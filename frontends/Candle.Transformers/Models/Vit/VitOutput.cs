using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Vit;

/// <summary>The feed-forward contraction plus the residual (transformers' ViTOutput).</summary>
public sealed class VitOutput : Module
{
    /// <summary>Creates the layer.</summary>
    public VitOutput(int intermediateSize, int hiddenSize, DType dtype = DType.F32) =>
        Dense = RegisterModule("dense", new Linear(intermediateSize, hiddenSize, true, dtype));

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <summary>dense(intermediate) + residual.</summary>
    public Tensor Forward(Tensor intermediate, Tensor residual) => Dense.Forward(intermediate) + residual;
}
