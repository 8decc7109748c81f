using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// slice_scatter: the source is copied into the slice of the base. When the base is a donated graph input that
    /// nothing else reads, the copy goes straight into the input's buffer (only the slice's elements are written, the
    /// rest of the buffer is neither read nor copied) and the result is that buffer; otherwise the base is copied
    /// into a new buffer first.
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
