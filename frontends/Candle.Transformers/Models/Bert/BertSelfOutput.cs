using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>Projection, residual and post layer norm after attention (transformers' BertSelfOutput).</summary>
public sealed class BertSelfOutput : Module
{
    /// <summary>Creates the layer.</summary>
    public BertSelfOutput(int hiddenSize, double eps, DType dtype = DType.F32)
    {
        Dense = RegisterModule("dense", new Linear(hiddenSize, hiddenSize, true, dtype));
        LayerNorm = RegisterModule("LayerNorm", new LayerNorm(hiddenSize, eps, dtype: dtype));
    }

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <summary>LayerNorm.</summary>
    public LayerNorm LayerNorm { get; }

    /// <summary>LayerNorm(dense(hidden) + input).</summary>
    public Tensor Forward(Tensor hidden, Tensor input) => LayerNorm.Forward(Dense.Forward(hidden) + input);
}
