using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>Copies a strided view into another of the same shape (materializing a view, concat, pad, a cache write).</summary>
/// <param name="Src">The source view.</param>
/// <param name="Dst">The destination view.</param>
/// <param name="Label">What the copy is for.</param>
internal sealed record CopyCall(TensorView Src, TensorView Dst, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Dst.Slot, Src.Slot];
}

/// <summary>Sets <paramref name="Count"/> elements of a dense buffer to one value.</summary>
internal sealed record FillCall(int Slot, DType DType, Dim Count, double Value, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Slot];
}

/// <summary>start, start + step, ... into a dense buffer of <paramref name="Length"/> elements.</summary>
internal sealed record ArangeCall(int Slot, DType DType, Dim Length, double Start, double Step, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [Slot];
}

/// <summary>Requires <c>0 ≤ Start ≤ End ≤ Size</c> when the call runs (bounds that are only known then).</summary>
internal sealed record CheckRangeCall(Dim Start, Dim End, Dim Size, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [];
}
