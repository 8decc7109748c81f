using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A sum or mean over the leading dims of a dense row-major buffer, X [rows, columns] → Y [columns] (a bias gradient:
/// dy summed over the tokens), read as it lies instead of through the transposing copy a <see cref="ReduceCall"/> over
/// leading dims needs. Scheduled only for backends that ask for it (<see cref="Scheduler.Schedule"/>'s
/// <c>columnReductions</c>).
/// </summary>
internal sealed record ColumnReduceCall(Op Op, int X, DType XType, int Y, DType YType, Dim Rows, Dim Columns, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X, Y];
}
