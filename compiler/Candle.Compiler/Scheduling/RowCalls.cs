using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>A reduction (sum, mean, max, min, prod, argmax, argmin) of each row of a dense [rows, rowLength] buffer.</summary>
internal sealed record ReduceCall(Op Op, int X, DType XType, int Y, DType YType, Dim Rows, Dim RowLength, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Y];
}

/// <summary>A row-wise scan or normalization (cumsum, softmax, log_softmax) of a dense [rows, rowLength] buffer.</summary>
internal sealed record RowCall(Op Op, int X, DType XType, int Y, DType YType, Dim Rows, Dim RowLength, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Y];
}

/// <summary>layer_norm or rms_norm over the last <paramref name="RowLength"/> elements; weight and bias slots are -1 when absent.</summary>
internal sealed record NormCall(Op Op, int X, int Weight, int Bias, int Y, DType DType, Dim Rows, Dim RowLength, double Eps, string Label) : KernelCall(Label)
{
    /// <summary>
    /// A residual added to x first (−1: none; rms_norm only, scheduled only for backends that ask for it): the sum,
    /// rounded to the dtype, is written to <see cref="Sum"/> and normalized.
    /// </summary>
    public int Residual { get; init; } = -1;

    /// <summary>Where x + <see cref="Residual"/> is written (−1 without a residual).</summary>
    public int Sum { get; init; } = -1;

    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Weight, Bias, Y, Residual, Sum];
}

/// <summary>group_norm of a dense [batch, channels, spatial...] buffer.</summary>
internal sealed record GroupNormCall(int X, int Weight, int Bias, int Y, DType DType, Dim Batch, Dim Channels, Dim Spatial, int Groups, double Eps, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Weight, Bias, Y];
}

/// <summary>
/// Rotary embedding of [..., headDim] rows x with cos and sin tables of shape [..., headDim / 2] into a dense output:
/// the operands are dense (offset 0, row-major) unless the scheduler was asked for strided operands, then they are
/// views (x permuted or sliced, the tables broadcast).
/// </summary>
internal sealed record RopeCall(TensorView X, TensorView Cos, TensorView Sin, int Y, DType DType, Dim Rows, Dim HeadDim, bool Interleaved, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, Cos.Slot, Sin.Slot, Y];
}
