using Candle.Compiler.Ir;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// y [rows, n] = x [rows, k] · wᵀ with dense float32 x and y and the weight w [n, k] stored in ggml blocks of
/// <paramref name="Type"/> in weight slot <paramref name="W"/> (read as stored).
/// </summary>
internal sealed record QuantMatMulCall(TensorView X, int W, int Y, GgmlType Type, Dim Rows, int N, int K, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, W, Y];
}

/// <summary>y [count, cols] = the dequantized rows of w [rows, cols] (ggml blocks in weight slot <paramref name="W"/>) at dense integer ids.</summary>
internal sealed record QuantEmbeddingCall(int W, TensorView Index, int Y, GgmlType Type, int Rows, int Cols, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [W, Index.Slot, Y];
}
