using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>Convolution or transposed convolution of dense operands; <paramref name="Bias"/> is -1 when absent.</summary>
internal sealed record ConvCall(Op Op, TensorView X, TensorView W, int Bias, int Y, DType DType, Dim[] OutShape, ConvAttrs Attrs, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, W.Slot, Bias, Y];
}

/// <summary>Max or average pooling of a dense [batch, channels, spatial...] buffer.</summary>
internal sealed record PoolCall(Op Op, TensorView X, int Y, DType DType, Dim[] OutShape, PoolAttrs Attrs, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, Y];
}
