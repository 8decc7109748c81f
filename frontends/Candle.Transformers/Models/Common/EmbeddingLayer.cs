using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// An embedding table [count, dim] (torch.nn.Embedding) read from a checkpoint. A bfloat16 table of a float32 model
/// stays bfloat16 (<see cref="CheckpointWeights.GetMatrix"/>): the rows looked up are cast, not the whole table. A
/// block-quantized table (GGUF) stays quantized (<see cref="QuantizedWeight"/>): lookups dequantize the rows they pick,
/// and a tied output head (<see cref="Project"/>) is a quantized matmul.
/// </summary>
public sealed class EmbeddingLayer : Module<Tensor, Tensor>
{
    /// <summary>Reads <c>{prefix}.weight</c>.</summary>
    public EmbeddingLayer(CheckpointWeights weights, string prefix, int count, int dim)
    {
        ArgumentNullException.ThrowIfNull(weights);
        DType = weights.DType;
        QuantizedWeight = weights.GetQuantized(prefix + ".weight", count, dim);
        if (QuantizedWeight is null) Weight = RegisterParameter("weight", weights.GetMatrix(prefix + ".weight", count, dim));
    }

    /// <summary>The table [count, dim], in the dtype the checkpoint stores it in (see <see cref="Table"/>); null when it is kept quantized.</summary>
    public Parameter? Weight { get; }

    /// <summary>The table [count, dim] in its stored ggml block format, or null when it is a float tensor (<see cref="Weight"/>).</summary>
    public QuantizedTensor? QuantizedWeight { get; }

    /// <summary>The model's dtype: what lookups return.</summary>
    public DType DType { get; }

    /// <summary>The table in the model's dtype (a cast in the graph when it is stored narrower), e.g. for a tied output head.</summary>
    /// <exception cref="InvalidOperationException">The table is kept quantized (use <see cref="Project"/>).</exception>
    public Tensor Table => Weight is null
        ? throw new InvalidOperationException($"the embedding table {QuantizedWeight} is kept quantized; project with Project")
        : Weight.DType == DType ? Weight : Weight.To(DType);

    /// <summary>hidden · tableᵀ: the logits of an output head tied to this table (a quantized matmul when the table is quantized).</summary>
    public Tensor Project(Tensor hidden) => QuantizedWeight is not null ? F.QuantizedLinear(hidden, QuantizedWeight) : F.Linear(hidden, Table);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (QuantizedWeight is not null) return F.QuantizedEmbedding(input, QuantizedWeight);
        var rows = F.Embedding(input, Weight!);
        return rows.DType == DType ? rows : rows.To(DType);
    }
}
