using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A generated reduction (<see cref="ReductionSpec"/>, the kernel IR) with its fused producers and consumer, writing
/// <paramref name="Rows"/> outputs densely into <paramref name="Output"/>. <paramref name="Shape"/> is the collapsed
/// index space (outer dims, then reduced dims); each operand has strides over it. Work items are outputs.
/// </summary>
internal sealed record ReductionCall(ReductionSpec Kernel, int Output, Dim[] Shape, IReadOnlyList<KernelOperand> Inputs, Dim Rows, Dim RowLength, string Label)
    : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Output, .. Inputs.Select(i => i.Slot)];
}
