using Candle.Compiler.Ir;
using Candle.Runtime.Kernels.Quant;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// A linear layer (torch.nn.Linear: y = x·Wᵀ + b, weight [out, in]) whose parameters come straight from a checkpoint.
/// When <see cref="Transposed"/>, the stored weight is [in, out] (GPT-2's Conv1D) and y = x·W + b. A bfloat16
/// weight of a float32 model stays bfloat16 (<see cref="CheckpointWeights.GetMatrix"/>) and is cast in the graph,
/// which the compiled GEMM reads without a float32 copy. A block-quantized weight (GGUF) stays quantized
/// (<see cref="QuantizedWeight"/>, <see cref="CheckpointWeights.GetQuantized"/>) and the product is a quantized matmul.
/// </summary>
public sealed class LinearLayer : Module<Tensor, Tensor>
{
    /// <summary>Reads <c>{prefix}.weight</c> (and <c>{prefix}.bias</c>) from <paramref name="weights"/>.</summary>
    public LinearLayer(CheckpointWeights weights, string prefix, int inFeatures, int outFeatures, bool bias, bool transposed = false)
    {
        ArgumentNullException.ThrowIfNull(weights);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Transposed = transposed;
        QuantizedWeight = transposed ? null : weights.GetQuantized(prefix + ".weight", outFeatures, inFeatures);
        if (QuantizedWeight is null)
        {
            Weight = RegisterParameter("weight", transposed
                ? weights.Get(prefix + ".weight", inFeatures, outFeatures)
                : weights.GetMatrix(prefix + ".weight", outFeatures, inFeatures));
        }

        if (bias) Bias = RegisterParameter("bias", weights.Get(prefix + ".bias", outFeatures));
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Whether the weight is stored [in, out].</summary>
    public bool Transposed { get; }

    /// <summary>The weight, or null when it is kept quantized (<see cref="QuantizedWeight"/>).</summary>
    public Parameter? Weight { get; }

    /// <summary>The weight [out, in] in its stored ggml block format, or null when it is a float tensor (<see cref="Weight"/>).</summary>
    public QuantizedTensor? QuantizedWeight { get; }

    /// <summary>The bias [out], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>
    /// Applies the layer to [..., in]. Leading dims are flattened so the product is one plain 2-d matrix product
    /// [rows, in] × [in, out] (no broadcast batch of weights), then restored. A quantized product takes [..., in] as
    /// it is (its rows are the leading dims), so no reshape sits between it and the ops that consume its result and its
    /// epilogue (bias, activation, the gated MLP's product, the residual add) fuses into it.
    /// </summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (QuantizedWeight is not null) return F.QuantizedLinear(input, QuantizedWeight, Bias);
        var lead = input.Shape.Take(input.Rank - 1).ToArray();
        var x = input.Rank == 2 ? input : input.Reshape(lead.Aggregate(Dim.One, (a, b) => a * b), InFeatures);
        Tensor y;
        if (Transposed)
        {
            y = Tensors.MatMul(x, Weight!);
            if (Bias is not null) y += Bias;
        }
        else
        {
            y = F.Linear(x, Weight!.DType == x.DType ? Weight : Weight.To(x.DType), Bias);
        }

        return input.Rank == 2 ? y : y.Reshape([.. lead, OutFeatures]);
    }
}
