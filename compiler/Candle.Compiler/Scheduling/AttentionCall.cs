using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// Scaled dot-product attention softmax(q·kᵀ·scale + mask)·v over [batch, heads, seq, head_dim] views (GQA when k and
/// v have fewer heads), optionally causal (bottom-right aligned). Float32 operands are strided with unit stride along
/// the head dim; other dtypes are dense unless the scheduler was asked for strided operands.
/// </summary>
internal sealed record AttentionCall(TensorView Q, TensorView K, TensorView V, TensorView? Mask, int Y, DType DType, double Scale, bool Causal, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Q.Slot, K.Slot, V.Slot, Mask?.Slot ?? -1, Y];
}
