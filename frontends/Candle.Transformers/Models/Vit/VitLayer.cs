using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;

namespace Candle.Transformers.Models.Vit;

/// <summary>One pre-layer-norm encoder layer (transformers' ViTLayer).</summary>
public sealed class VitLayer : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public VitLayer(VitConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        Attention = RegisterModule("attention", new VitAttention(config, dtype));
        Intermediate = RegisterModule("intermediate", new BertIntermediate(config.HiddenSize, config.IntermediateSize, config.HiddenAct, dtype));
        Output = RegisterModule("output", new VitOutput(config.IntermediateSize, config.HiddenSize, dtype));
        LayernormBefore = RegisterModule("layernorm_before", new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype));
        LayernormAfter = RegisterModule("layernorm_after", new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype: dtype));
    }

    /// <summary>attention.</summary>
    public VitAttention Attention { get; }

    /// <summary>intermediate.</summary>
    public BertIntermediate Intermediate { get; }

    /// <summary>output.</summary>
    public VitOutput Output { get; }

    /// <summary>layernorm_before.</summary>
    public LayerNorm LayernormBefore { get; }

    /// <summary>layernorm_after.</summary>
    public LayerNorm LayernormAfter { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var h = Attention.Forward(LayernormBefore.Forward(input)) + input;
        return Output.Forward(Intermediate.Forward(LayernormAfter.Forward(h)), h);
    }
}
