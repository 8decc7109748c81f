using Candle.Compiler.Ir;
using Candle.Compiler.Passes;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Lowers a <see cref="FusedKinds.ReduceBroadcast"/> group as one generated kernel per row
    /// (<see cref="BroadcastReductionCall"/>): its reductions over the trailing axes become accumulators, broadcasts of
    /// row values vanish into the body (a row value is read wherever the row is), and the result is written densely.
    /// Returns null for groups it does not take (the caller lowers those node by node).
    /// </summary>
    private TensorView? TryScheduleBroadcastReduction(Node node, TensorView[] ins)
    {
        if (!_generateReductions && !_broadcastReductions) return null;
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        var full = node.Shape;
        var reduces = body.Nodes.Where(n => n.Op.IsReduce()).ToList();
        if (reduces.Count == 0 || !result.Shape.Equals(full)) return null;
        var row = reduces[0].Shape;
        foreach (var n in body.Nodes)
        {
            bool ok = n.Op switch
            {
                Op.Input or Op.Full => true,
                Op.Expand => n.Inputs[0].Shape.Equals(row) && n.Shape.Equals(full),
                var op when op.IsReduce() => ReductionSpec.Supports(n) && FusionGroup.IsRowReduction(n, full, row),
                _ => ElementwiseSpec.Supports(n) && (n.Shape.Equals(full) || n.Shape.Equals(row)),
            };
            if (!ok) return null;
        }

        var (ops, kernelInputs) = Linearize(body.Nodes, result, n => n.Op == Op.Input ? ins[body.Inputs.IndexOf(n)] : null);
        if (ReductionSpec.IsAccumulator(ops[^1].Op)) return null;

        // The index space: the kept (leading) dims, then the reduced (trailing) dims, each collapsed. An operand of the
        // row's shape is read with zero strides along the reduced dims.
        int rank = full.Count, k = reduces[0].Attr<ReduceAttrs>().Axes.Count;
        var outerShape = full.Take(rank - k).ToArray();
        var reducedShape = full.Skip(rank - k).ToArray();
        var outerStrides = new Dim[kernelInputs.Count][];
        var reducedStrides = new Dim[kernelInputs.Count][];
        for (int i = 0; i < kernelInputs.Count; i++)
        {
            var v = kernelInputs[i];
            if (!v.Shape.SequenceEqual(full) && !v.Shape.SequenceEqual(row))
            {
                throw new InvalidOperationException($"an operand of shape [{string.Join(", ", v.Shape)}] of a reduce_broadcast group is neither its row's nor its result's");
            }

            bool rowShaped = !v.Shape.SequenceEqual(full);
            outerStrides[i] = [.. v.Strides.Take(rank - k)];
            reducedStrides[i] = [.. v.Strides.Skip(rank - k).Select(s => rowShaped ? Dim.Zero : s)];
        }

        var (oShape, oStrides) = Collapse(outerShape, outerStrides);
        var (rShape, rStrides) = Collapse(reducedShape, reducedStrides);
        int q = rShape.Length;
        var specInputs = kernelInputs.Select((v, i) => new ElementwiseInput(v.DType, AccessOf(rStrides[i][q - 1]))).ToList();
        var spec = new BroadcastReductionSpec(specInputs, ops, node.DType, oShape.Length, q);
        var operands = kernelInputs.Select((v, i) => new KernelOperand(v.Slot, v.Offset, [.. oStrides[i], .. rStrides[i]])).ToList();
        int outSlot = _kg.AddArena(node.DType, [.. full]);
        _kg.Add(new BroadcastReductionCall(spec, outSlot, [.. oShape, .. rShape], operands, Prod(outerShape), Prod(reducedShape), $"fused {FusedKinds.ReduceBroadcast}"));
        return TensorView.Dense(outSlot, node.DType, [.. full]);
    }
}
