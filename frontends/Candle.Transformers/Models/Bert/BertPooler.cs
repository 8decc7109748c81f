using Candle.Runtime;
using Candle.Torch;
using Candle.Torch.Nn;

namespace Candle.Transformers.Models.Bert;

/// <summary>tanh(dense(first token)) (transformers' BertPooler).</summary>
public sealed class BertPooler : Module<Tensor, Tensor>
{
    /// <summary>Creates the pooler.</summary>
    public BertPooler(int hiddenSize, DType dtype = DType.F32) => Dense = RegisterModule("dense", new Linear(hiddenSize, hiddenSize, true, dtype));

    /// <summary>dense.</summary>
    public Linear Dense { get; }

    /// <summary>Pools [batch, seq, hidden] to [batch, hidden].</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Dense.Forward(input.Select(1, 0)).Tanh();
    }
}
