using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;
using Candle.Transformers.Models.Bert;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Models.Vit;

/// <summary>activation(dense(first token)) (transformers' ViTPooler).</summary>
public sealed class VitPooler : Module<Tensor, Tensor>
{
    private readonly string _act;

    /// <summary>Creates the pooler.</summary>
    public VitPooler(VitConfig config, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(config);
        _act = config.PoolerAct;
        Dense = RegisterModule("dense", new Linear(config.HiddenSize, config.PoolerOutputSize, true, dtype));
    }

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Activations.Apply(_act, Dense.Forward(input.Select(1, 0)));
    }
}
