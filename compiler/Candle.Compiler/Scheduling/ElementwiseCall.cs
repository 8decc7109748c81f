using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>One operand of a generated kernel: a buffer, an offset and strides over the kernel's collapsed index space (in elements).</summary>
internal sealed record KernelOperand(int Slot, Dim Offset, Dim[] Strides);

/// <summary>
/// A generated elementwise kernel (<see cref="ElementwiseSpec"/>, the kernel IR) over a dense output of the collapsed
/// <paramref name="Shape"/>. When <paramref name="InPlaceOfGemm"/> is set the kernel is the epilogue of a matrix
/// product whose result is <paramref name="Output"/>.
/// </summary>
internal sealed record ElementwiseCall(ElementwiseSpec Kernel, int Output, Dim[] Shape, IReadOnlyList<KernelOperand> Inputs, Dim Numel, string Label, bool InPlaceOfGemm = false)
    : KernelCall(Label)
{
    /// <summary>The dense buffers of the kernel's further outputs (<see cref="ElementwiseSpec.Stores"/>), in order.</summary>
    public IReadOnlyList<int> StoreSlots { get; init; } = [];

    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Output, .. StoreSlots, .. Inputs.Select(i => i.Slot)];
}

/// <summary>An elementwise op the generated kernels do not cover (integer dtypes...), run by a library kernel over strided operands.</summary>
internal sealed record FallbackElementwiseCall(Op Op, int Output, DType DType, Dim[] Shape, IReadOnlyList<TensorView> Inputs, Dim Numel, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Output, .. Inputs.Select(i => i.Slot)];
}
