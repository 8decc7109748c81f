using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A generated row reduction with a broadcast consumer (<see cref="BroadcastReductionSpec"/>, the kernel IR) writing
/// its whole index space densely into <paramref name="Output"/>. <paramref name="Shape"/> is the collapsed index space
/// (outer dims, then reduced dims); each operand has strides over it. Work items are the <paramref name="Rows"/> rows
/// of <paramref name="RowLength"/> elements.
/// </summary>
internal sealed record BroadcastReductionCall(BroadcastReductionSpec Kernel, int Output, Dim[] Shape, IReadOnlyList<KernelOperand> Inputs, Dim Rows, Dim RowLength, string Label)
    : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Output, .. Inputs.Select(i => i.Slot)];
}
