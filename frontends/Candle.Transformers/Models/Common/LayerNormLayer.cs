using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>Layer norm over the last dim with weight and bias read from a checkpoint (torch.nn.LayerNorm).</summary>
public sealed class LayerNormLayer : Module<Tensor, Tensor>
{
    /// <summary>Reads <c>{prefix}.weight</c> and <c>{prefix}.bias</c>.</summary>
    public LayerNormLayer(CheckpointWeights weights, string prefix, int dim, double eps)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Dim = dim;
        Weight = RegisterParameter("weight", weights.Get(prefix + ".weight", dim));
        Bias = RegisterParameter("bias", weights.Get(prefix + ".bias", dim));
        Eps = eps;
    }

    /// <summary>The normalized size.</summary>
    public int Dim { get; }

    /// <summary>The scale.</summary>
    public Parameter Weight { get; }

    /// <summary>The shift.</summary>
    public Parameter Bias { get; }

    /// <summary>Epsilon.</summary>
    public double Eps { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.LayerNorm(input, [Dim], Weight, Bias, Eps);
}
