using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

/// <summary>numpy.take along an axis of a dense [outer, axis, inner] buffer with dense indices.</summary>
internal sealed record IndexSelectCall(TensorView X, TensorView Index, int Y, Dim Outer, Dim AxisSize, Dim Inner, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, Index.Slot, Y];
}

/// <summary>torch.gather along <paramref name="Axis"/> of dense operands.</summary>
internal sealed record GatherCall(TensorView X, TensorView Index, int Y, int Axis, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, Index.Slot, Y];
}

/// <summary>Out-of-place torch.scatter_add along <paramref name="Axis"/> of dense operands.</summary>
internal sealed record ScatterAddCall(TensorView X, TensorView Index, TensorView Src, int Y, int Axis, string Label) : KernelCall(Label)
{
    /// <inheritdoc/>
    public override IEnumerable<int> Slots => [X.Slot, Index.Slot, Src.Slot, Y];
}
