using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// One set of rows of a <see cref="RopeRowsCall"/>: rows of <see cref="RopeRowsCall.HeadDim"/> elements of
/// <see cref="X"/> rotated by the tables <see cref="Cos"/> and <see cref="Sin"/> (both null: copied as they are) and
/// written to the view <see cref="Y"/>, which has x's shape (a dense buffer, or the new rows of a KV cache). With a
/// <see cref="Row"/>, x's rows are batch-major over <see cref="RowBatch"/> batch entries and batch entry b's rows go
/// <c>Row[b]</c> · <see cref="RowStride"/> elements past where <see cref="Y"/> says, and nowhere when
/// <c>Row[b]</c> is outside [0, <see cref="Capacity"/>): the new key or value row written into a fixed-size cache at
/// the position, as <c>where(arange(capacity) == position, rows, cache)</c> does.
/// </summary>
internal sealed record RopePart(TensorView X, TensorView? Cos, TensorView? Sin, TensorView Y)
{
    /// <summary>The int64 row index of each batch entry (a view of shape [batch]), or null.</summary>
    public TensorView? Row { get; init; }

    /// <summary>The batch entries <see cref="Row"/> indexes.</summary>
    public Dim RowBatch { get; init; } = Dim.One;

    /// <summary>The stride, in elements of <see cref="Y"/>'s buffer, of the rows <see cref="Row"/> picks.</summary>
    public Dim RowStride { get; init; } = Dim.Zero;

    /// <summary>The rows <see cref="Row"/> may pick (larger or negative indices write nothing).</summary>
    public Dim Capacity { get; init; } = Dim.Zero;

    /// <summary>Whether the rows are rotated (else copied).</summary>
    public bool Rotates => Cos is not null;

    /// <summary>The buffers the part reads or writes.</summary>
    public IEnumerable<int> Slots => [X.Slot, Cos?.Slot ?? -1, Sin?.Slot ?? -1, Y.Slot, Row?.Slot ?? -1];
}

/// <summary>
/// Rotary embeddings and row copies of one decode step in one call (scheduled only for backends that ask for it): the
/// query and key ropes of one product's output and the new key and value rows written straight into the cache
/// (<see cref="RopePart"/>), all with the same tables, dtype and head dim. No part reads what another writes.
/// </summary>
internal sealed record RopeRowsCall(IReadOnlyList<RopePart> Parts, DType DType, Dim HeadDim, bool Interleaved, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => Parts.SelectMany(p => p.Slots);
}
