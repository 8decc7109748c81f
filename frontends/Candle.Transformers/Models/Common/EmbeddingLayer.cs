using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// An embedding table [count, dim] (torch.nn.Embedding) read from a checkpoint. A bfloat16 table of a float32 model
/// stays bfloat16 (<see cref="CheckpointWeights.GetMatrix"/>): the rows looked up are cast, not the whole table.
/// </summary>
public sealed class EmbeddingLayer : Module<Tensor, Tensor>
{
    /// <summary>Reads <c>{prefix}.weight</c>.</summary>
    public EmbeddingLayer(CheckpointWeights weights, string prefix, int count, int dim)
    {
        ArgumentNullException.ThrowIfNull(weights);
        DType = weights.DType;
        Weight = RegisterParameter("weight", weights.GetMatrix(prefix + ".weight", count, dim));
    }

    /// <summary>The table [count, dim], in the dtype the checkpoint stores it in (see <see cref="Table"/>).</summary>
    public Parameter Weight { get; }

    /// <summary>The model's dtype: what lookups return.</summary>
    public DType DType { get; }

    /// <summary>The table in the model's dtype (a cast in the graph when it is stored narrower), e.g. for a tied output head.</summary>
    public Tensor Table => Weight.DType == DType ? Weight : Weight.To(DType);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var rows = F.Embedding(input, Weight);
        return rows.DType == DType ? rows : rows.To(DType);
    }
}
