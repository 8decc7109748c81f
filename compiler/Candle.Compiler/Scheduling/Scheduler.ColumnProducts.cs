using Candle.Compiler.Ir;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// With the scheduler's <c>columnReductions</c>: a generated elementwise product of two dense operands of one dtype
    /// (read in the product's layout) followed by the <see cref="ColumnReduceCall"/> that alone reads it (a layer norm's
    /// weight gradient, Σ dy·x̂ over the tokens) becomes that column reduction over both factors
    /// (<see cref="ColumnReduceCall.X2"/>): the product's arena buffer, which no later call reads, is no longer
    /// written (a product written in place of one of its operands leaves that operand as it was, read by the
    /// reduction instead).
    /// </summary>
    private void MergeColumnProducts()
    {
        var calls = _kg.Calls;
        var lastUse = new Dictionary<int, int>();
        for (int i = 0; i < calls.Count; i++)
        {
            foreach (var s in calls[i].Slots.Where(s => s >= 0)) lastUse[s] = i;
        }

        var result = new List<KernelCall>(calls.Count);
        for (int i = 0; i < calls.Count; i++)
        {
            if (i + 1 < calls.Count && calls[i] is ElementwiseCall e && calls[i + 1] is ColumnReduceCall { X2: < 0 } r && lastUse[e.Output] == i + 1 && Factors(e, r) is var (a, b))
            {
                result.Add(r with { X = a, X2 = b });
                i++;
                continue;
            }

            result.Add(calls[i]);
        }

        calls.Clear();
        calls.AddRange(result);
    }

    /// <summary>The two factors' slots when <paramref name="e"/> is a product of two dense operands that <paramref name="r"/> sums.</summary>
    private (int A, int B)? Factors(ElementwiseCall e, ColumnReduceCall r)
    {
        var spec = e.Kernel;
        if (e.Output != r.X || e.InPlaceOfGemm || e.StoreSlots.Count > 0 || spec.Stores.Count > 0 || spec.Inputs.Count != 2) return null;
        if (spec.Body is not [{ Op: Op.Input } p, { Op: Op.Input } q, { Op: Op.Mul } mul] || p.Input == q.Input || !mul.Args.Order().SequenceEqual([0, 1])) return null;
        if (mul.DType != r.XType || spec.OutDType != r.XType || spec.Inputs.Any(i => i.DType != r.XType || i.Access != InnerAccess.Contiguous)) return null;
        if (_kg.KindOf(e.Output) != BufferKind.Arena) return null;
        var dense = TensorView.ContiguousStrides(e.Shape);
        foreach (var o in e.Inputs)
        {
            if (o.Offset.TryGetConstant() != 0 || !o.Strides.SequenceEqual(dense)) return null;
        }

        return (e.Inputs[0].Slot, e.Inputs[1].Slot);
    }
}
