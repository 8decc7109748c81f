using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>An embedding table [count, dim] (torch.nn.Embedding) read from a checkpoint.</summary>
public sealed class EmbeddingLayer : Module<Tensor, Tensor>
{
    /// <summary>Reads <c>{prefix}.weight</c>.</summary>
    public EmbeddingLayer(CheckpointWeights weights, string prefix, int count, int dim)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Weight = RegisterParameter("weight", weights.Get(prefix + ".weight", count, dim));
    }

    /// <summary>The table [count, dim].</summary>
    public Parameter Weight { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Embedding(input, Weight);
}
