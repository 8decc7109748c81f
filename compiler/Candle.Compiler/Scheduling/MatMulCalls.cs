using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A float32 product C[rows, n] = A[rows, k] · B[k, n] into a dense C, A walked by <paramref name="ARowStride"/>; B is
/// one matrix (a weight when <paramref name="BIsWeight"/>, which a backend may pack once; a bfloat16 weight read as
/// float32 when B has a <see cref="TensorView.StoredDType"/>). The optional
/// <paramref name="Epilogue"/> is a generated kernel applied to C in place (bias, activation, residual...).
/// </summary>
internal sealed record GemmCall(TensorView A, Dim ARowStride, TensorView B, int C, Dim Rows, Dim N, Dim K, bool BIsWeight, ElementwiseCall? Epilogue, string Label)
    : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [A.Slot, B.Slot, C, .. Epilogue?.Inputs.Select(i => i.Slot) ?? []];
}

/// <summary>A batched product over strided operands (batch dims <paramref name="BatchShape"/>) into a dense C.</summary>
internal sealed record BatchedMatMulCall(TensorView A, TensorView B, int C, DType DType, Dim M, Dim N, Dim K, Dim[] BatchShape, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [A.Slot, B.Slot, C];
}
