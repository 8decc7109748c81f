using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// One set of rows of a <see cref="RopeRowsCall"/>: rows of <see cref="RopeRowsCall.HeadDim"/> elements of
/// <see cref="X"/> rotated by the tables <see cref="Cos"/> and <see cref="Sin"/> (both null: copied as they are) and
/// written to the view <see cref="Y"/>, which has x's shape (a dense buffer, or the new rows of a KV cache).
/// </summary>
internal sealed record RopePart(TensorView X, TensorView? Cos, TensorView? Sin, TensorView Y)
{
    /// <summary>Whether the rows are rotated (else copied).</summary>
    public bool Rotates => Cos is not null;

    /// <summary>The buffers the part reads or writes.</summary>
    public IEnumerable<int> Slots => [X.Slot, Cos?.Slot ?? -1, Sin?.Slot ?? -1, Y.Slot];
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
