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
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Weight, Bias, Y];
}

/// <summary>group_norm of a dense [batch, channels, spatial...] buffer.</summary>
internal sealed record GroupNormCall(int X, int Weight, int Bias, int Y, DType DType, Dim Batch, Dim Channels, Dim Spatial, int Groups, double Eps, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Weight, Bias, Y];
}

/// <summary>Rotary embedding of dense [rows, headDim] rows with dense cos and sin tables of the same shape.</summary>
internal sealed record RopeCall(int X, int Cos, int Sin, int Y, DType DType, Dim Rows, Dim HeadDim, bool Interleaved, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Cos, Sin, Y];
}
