using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A sum or mean over the leading dims of a dense row-major buffer, X [rows, columns] → Y [columns] (a bias gradient:
/// dy summed over the tokens), read as it lies instead of through the transposing copy a <see cref="ReduceCall"/> over
/// leading dims needs. Scheduled only for backends that ask for it (<see cref="Scheduler.Schedule"/>'s
/// <c>columnReductions</c>). With <see cref="X2"/> it sums the products X·X2 of two such buffers instead (a layer
/// norm's weight gradient: dy·x̂ summed over the tokens), so the product is never written.
/// </summary>
internal sealed record ColumnReduceCall(Op Op, int X, DType XType, int Y, DType YType, Dim Rows, Dim Columns, string Label) : KernelCall(Label)
{
    /// <summary>The second factor's dense buffer (of <see cref="XType"/> and X's shape), or -1 for a plain sum.</summary>
    public int X2 { get; init; } = -1;

    /// <inheritdoc/>
    public override IEnumerable<int> Slots => X2 >= 0 ? [X, X2, Y] : [X, Y];
}
