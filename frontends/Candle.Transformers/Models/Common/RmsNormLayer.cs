using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// RMS norm over the last dim read from a checkpoint: x / √(mean(x²) + eps) · w (LlamaRMSNorm), or · (1 + w) when
/// <see cref="AddOne"/> (GemmaRMSNorm, whose weights are stored as offsets from 1).
/// </summary>
public sealed class RmsNormLayer : Module<Tensor, Tensor>
{
    /// <summary>Reads <c>{prefix}.weight</c>.</summary>
    public RmsNormLayer(CheckpointWeights weights, string prefix, int dim, double eps, bool addOne = false)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Weight = RegisterParameter("weight", weights.Get(prefix + ".weight", dim));
        Eps = eps;
        AddOne = addOne;
    }

    /// <summary>The scale (or its offset from 1).</summary>
    public Parameter Weight { get; }

    /// <summary>Epsilon.</summary>
    public double Eps { get; }

    /// <summary>Whether the scale is 1 + weight.</summary>
    public bool AddOne { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.RmsNorm(input, AddOne ? Weight + 1.0 : Weight, Eps);
}
