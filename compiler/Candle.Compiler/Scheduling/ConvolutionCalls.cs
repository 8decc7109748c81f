using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// Convolution or transposed convolution of dense operands; <paramref name="Bias"/> is -1 when absent. A float32
/// convolution may carry an epilogue: <paramref name="Residual"/> (a dense buffer of Y's shape, -1 none) added after
/// the bias, then a ReLU when <paramref name="Relu"/>.
/// </summary>
internal sealed record ConvCall(Op Op, TensorView X, TensorView W, int Bias, int Y, DType DType, Dim[] OutShape, ConvAttrs Attrs, string Label, int Residual = -1, bool Relu = false)
    : KernelCall(Label)
{
    /// <summary>Whether the call carries an epilogue.</summary>
    public bool HasEpilogue => Residual >= 0 || Relu;

    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, W.Slot, Bias, Y, Residual];
}

/// <summary>Max or average pooling of a dense [batch, channels, spatial...] buffer.</summary>
internal sealed record PoolCall(Op Op, TensorView X, int Y, DType DType, Dim[] OutShape, PoolAttrs Attrs, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, Y];
}

/// <summary>
/// A float32 2-d convolution of dense operands (<paramref name="Bias"/> −1 when absent), a ReLU when
/// <paramref name="Relu"/>, then a max pool of its result (<paramref name="Pool"/>'s window, stride and padding):
/// only the pooled value is written, to <paramref name="Y"/> of shape <paramref name="OutShape"/>; the convolution's
/// result, of shape <paramref name="ConvShape"/>, is no buffer of the plan.
/// </summary>
internal sealed record ConvMaxPoolCall(TensorView X, TensorView W, int Bias, int Y, Dim[] ConvShape, ConvAttrs Attrs, bool Relu, PoolAttrs Pool, Dim[] OutShape, string Label)
    : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, W.Slot, Bias, Y];
}
