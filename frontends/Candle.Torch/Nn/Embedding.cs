using Candle.Runtime;

namespace Candle.Torch.Nn;

/// <summary>A lookup table [num, dim] indexed by int64/int32 ids (torch.nn.Embedding); initialized N(0, 1).</summary>
public sealed class Embedding : Module<Tensor, Tensor>
{
    /// <summary>Creates the table.</summary>
    public Embedding(long numEmbeddings, long embeddingDim, DType dtype = DType.F32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numEmbeddings);
        ArgumentOutOfRangeException.ThrowIfNegative(embeddingDim);
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        Weight = RegisterParameter("weight", Init.Normal(dtype, 0, 1, checked((int)numEmbeddings), checked((int)embeddingDim)));
    }

    /// <summary>Rows.</summary>
    public long NumEmbeddings { get; }

    /// <summary>Columns.</summary>
    public long EmbeddingDim { get; }

    /// <summary>The table [num, dim].</summary>
    public Parameter Weight { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Embedding(input, Weight);
}
