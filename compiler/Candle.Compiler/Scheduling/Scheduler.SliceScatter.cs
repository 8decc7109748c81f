using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// slice_scatter: the source is copied into the slice of the base. When the base is a donated graph input that
    /// nothing else reads, the copy goes straight into the input's buffer (only the slice's elements are written, the
    /// rest of the buffer is neither read nor copied) and the result is that buffer; otherwise the base is copied
    /// into a new buffer first. With the scheduler's <c>fillsOutsideSlices</c>, a constant base (the zeros of a slice's
    /// gradient) is written only outside the slice (<see cref="FillOutside"/>) rather than over the whole buffer.
    /// </summary>
    private TensorView ScheduleSliceScatter(Node node, TensorView[] ins)
    {
        const string label = "slice_scatter";
        var a = node.Attr<SliceAttrs>();
        var (x, src) = (ins[0], ins[1]);
        TensorView y;
        if (!x.IsConstant && x.IsDense && IsDonatedAndUnshared(node.Inputs[0]))
        {
            y = x;
        }
        else if (x.IsConstant && _fillsOutsideSlices)
        {
            y = NewOutput(node);
            FillOutside(x, y, a, label);
        }
        else
        {
            y = NewOutput(node);
            Copy(x, y, label);
        }

        CheckSlice(a, y.Shape[a.Axis], label);
        if (src.Numel == Dim.Zero) return y;
        var strides = y.Strides.ToArray();
        strides[a.Axis] = y.Strides[a.Axis] * a.Step;
        Copy(src, y with { Offset = y.Offset + (a.Start * y.Strides[a.Axis]), Shape = src.Shape, Strides = strides }, $"{label} (new elements only)");
        return y;
    }

    /// <summary>
    /// Writes the constant <paramref name="c"/> into the elements of <paramref name="y"/> that the slice
    /// <paramref name="a"/> leaves alone: for a unit-step slice of constant bounds, the runs before and after it along
    /// the axis (none when it covers the axis), else the whole buffer with one fill.
    /// </summary>
    private void FillOutside(TensorView c, TensorView y, SliceAttrs a, string label)
    {
        if (a.Step == 1 && a.Start.TryGetConstant() is long start && a.End.TryGetConstant() is long end && y.Shape[a.Axis].TryGetConstant() is long size
            && 0 <= start && start <= end && end <= size)
        {
            foreach (var (from, to) in new[] { (start: 0L, end: start), (start: end, end: size) })
            {
                if (to <= from) continue;
                var shape = y.Shape.ToArray();
                shape[a.Axis] = Dim.Of(to - from);
                var region = y with { Offset = y.Offset + (Dim.Of(from) * y.Strides[a.Axis]), Shape = shape };
                Copy(c with { Shape = shape, Strides = [.. shape.Select(_ => Dim.Zero)] }, region, $"{label} (outside the slice)");
            }

            return;
        }

        Fill(y, c.Constant!.Value, label);
    }

    /// <summary>Whether <paramref name="n"/> is a donated graph input read by exactly one node and no graph output.</summary>
    private bool IsDonatedAndUnshared(Node n) =>
        n.Op == Op.Input && n.Attr<InputAttrs>().Donated && _donated.Contains(n) && _uses.GetValueOrDefault(n) == 1;

    /// <summary>
    /// Adds a bounds check of <c>0 ≤ start ≤ end ≤ size</c> for slices whose bounds are not all constant (a symbolic
    /// bound is only known when the plan is called): a call whose sizes put the slice out of range fails with an
    /// error naming the step instead of reading or writing outside the buffer.
    /// </summary>
    private void CheckSlice(SliceAttrs a, Dim size, string label)
    {
        if (a.Start.TryGetConstant() is long s && a.End.TryGetConstant() is long e && size.TryGetConstant() is long n && 0 <= s && s <= e && e <= n) return;
        if (a.Start == Dim.Zero && a.End == size) return;
        _kg.Add(new CheckRangeCall(a.Start, a.End, size, $"bounds of {label} [{a.Start}:{a.End}] in a dimension of {size}"));
    }
}
