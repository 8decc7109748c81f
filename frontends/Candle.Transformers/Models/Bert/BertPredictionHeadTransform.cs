using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Bert;

/// <summary>LayerNorm(act(dense(x))) before the masked-LM decoder (transformers' BertPredictionHeadTransform).</summary>
public sealed class BertPredictionHeadTransform : Module<Tensor, Tensor>
{
    private readonly string _activation;

    /// <summary>Creates the transform of <paramref name="config"/> (its hidden_act and layer_norm_eps).</summary>
    public BertPredictionHeadTransform(BertConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        _activation = config.HiddenAct;
        Dense = RegisterModule("dense", new Linear(config.HiddenSize, config.HiddenSize, true, dtype));
        LayerNorm = RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype));
    }

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <summary>LayerNorm.</summary>
    public LayerNorm LayerNorm { get; }

    /// <summary>Transforms [..., hidden] states.</summary>
    public override Tensor Forward(Tensor input) => LayerNorm.Forward(Activations.Apply(_activation, Dense.Forward(input)));
}
