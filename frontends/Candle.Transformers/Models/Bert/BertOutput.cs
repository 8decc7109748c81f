using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>The feed-forward contraction, residual and post layer norm (transformers' BertOutput).</summary>
public sealed class BertOutput : Module
{
    /// <summary>Creates the layer.</summary>
    public BertOutput(int intermediateSize, int hiddenSize, double eps, DType dtype = DType.F32)
    {
        Dense = RegisterModule("dense", new Linear(intermediateSize, hiddenSize, true, dtype));
        LayerNorm = RegisterModule("LayerNorm", new LayerNorm(hiddenSize, eps, dtype: dtype));
    }

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <summary>LayerNorm.</summary>
    public LayerNorm LayerNorm { get; }

    /// <summary>LayerNorm(dense(intermediate) + input).</summary>
    public Tensor Forward(Tensor intermediate, Tensor input) => LayerNorm.Forward(Dense.Forward(intermediate) + input);
}
