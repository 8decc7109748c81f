using Candle.Compiler.Ir;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// y [rows, n] = x [rows, k] · wᵀ with dense float32 x and y and the weight w [n, k] stored in ggml blocks of
/// <paramref name="Type"/> in weight slot <paramref name="W"/> (read as stored). With an <paramref name="Epilogue"/>
/// (a generated elementwise kernel over [rows, n] writing y), the product's values are never stored in y: the kernel
/// computes each finished tile into its own scratch and runs the epilogue on it, which reads the tile wherever it
/// reads slot <paramref name="Product"/> (a placeholder of 4 bytes), so y may be the buffer of one of the epilogue's
/// other operands (a gated MLP's product written over its dying gate).
/// </summary>
internal sealed record QuantMatMulCall(TensorView X, int W, int Y, GgmlType Type, Dim Rows, int N, int K, string Label, ElementwiseCall? Epilogue = null, int Product = -1)
    : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, W, Y, .. Epilogue?.Inputs.Select(i => i.Slot) ?? []];
}

/// <summary>y [count, cols] = the dequantized rows of w [rows, cols] (ggml blocks in weight slot <paramref name="W"/>) at dense integer ids.</summary>
internal sealed record QuantEmbeddingCall(int W, TensorView Index, int Y, GgmlType Type, int Rows, int Cols, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [W, Index.Slot, Y];
}
