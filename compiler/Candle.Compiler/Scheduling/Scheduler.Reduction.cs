using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Lowers a <see cref="FusedKinds.Reduce"/> group as one generated reduction: the elementwise ops the reduction
    /// reads become its producer, the ones after it its consumer. Returns null for groups it does not take (the
    /// caller lowers those node by node); <see cref="Fusion"/> forms none of those for a backend that fuses reductions.
    /// </summary>
    private TensorView? TryScheduleReduction(Node node, TensorView[] ins)
    {
        if (!_generateReductions) return null;
        var body = node.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        var reduces = body.Nodes.Where(n => n.Op.IsReduce()).ToList();
        if (reduces.Count != 1 || !ReductionSpec.Supports(reduces[0])) return null;
        if (body.Nodes.Any(n => n.Op is not (Op.Input or Op.Full) && !n.Op.IsReduce() && !ElementwiseSpec.Supports(n))) return null;
        var red = reduces[0];

        // The producer: every node the reduction reads; then the reduction; then the consumer.
        var producer = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>(red.Inputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!producer.Add(n)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }

        var consumer = ReferenceEquals(result, red) ? [] : body.Nodes.Where(n => !producer.Contains(n) && !ReferenceEquals(n, red));
        var ordered = body.Nodes.Where(producer.Contains).Append(red).Concat(consumer);
        var (ops, kernelInputs) = Linearize(ordered, result, n => n.Op == Op.Input ? ins[body.Inputs.IndexOf(n)] : null);
        return EmitReduction(red, ops, kernelInputs, node.DType, node.Shape, $"fused {FusedKinds.Reduce}");
    }

    /// <summary>A single reduction as a generated kernel (null when it is not one the generated kernels compute).</summary>
    private TensorView? TryScheduleSingleReduction(Node node, TensorView input)
    {
        if (!_generateReductions || !ReductionSpec.Supports(node) || PrefersRowKernel(node, input)) return null;
        var ops = new List<BodyOp>();
        var kernelInputs = new List<TensorView>();
        if (input.IsConstant)
        {
            ops.Add(new BodyOp(Op.Full, node.Inputs[0].DType, [], Constant: input.Constant!.Value));
        }
        else
        {
            kernelInputs.Add(input);
            ops.Add(new BodyOp(Op.Input, node.Inputs[0].DType, [], Input: 0));
        }

        ops.Add(new BodyOp(node.Op, node.DType, [0]));
        return EmitReduction(node, ops, kernelInputs, node.DType, node.Shape, node.Op.Name());
    }

    /// <summary>
    /// True for a lone float32 sum, mean, max or min over the trailing axes of a dense input: the runtime's row
    /// reduction (two vector accumulators over a raw row) measured faster there than the generated kernel
    /// (<c>ReductionBenchmarks</c>, "sum(x) last"), and it needs no copy.
    /// </summary>
    private static bool PrefersRowKernel(Node node, TensorView input)
    {
        if (node.Op is not (Op.Sum or Op.Mean or Op.Max or Op.Min) || node.DType != DType.F32 || input.DType != DType.F32) return false;
        if (input.IsConstant || !input.IsDense) return false;
        var axes = node.Attr<ReduceAttrs>().Axes.ToHashSet();
        int rank = input.Rank;
        return axes.Count > 0 && axes.All(a => a >= rank - axes.Count);
    }

    /// <summary>
    /// The generated reduction computing <paramref name="ops"/> (its reduce op is <paramref name="red"/>'s) into a
    /// new dense buffer of <paramref name="outShape"/>: the index space is <paramref name="red"/>'s kept axes (in
    /// order) then its reduced axes, each collapsed; inputs of the reduction's input shape are read over the whole
    /// space, inputs of its output shape with zero strides along the reduced axes.
    /// </summary>
    private TensorView EmitReduction(Node red, List<BodyOp> ops, List<TensorView> inputs, DType outDType, Shape outShape, string label)
    {
        int reduceAt = ops.FindIndex(o => o.Op == red.Op && ReductionSpec.IsAccumulator(o.Op));
        var a = red.Attr<ReduceAttrs>();
        var full = red.Inputs[0].Shape;
        var axes = a.Axes.ToHashSet();
        var kept = Enumerable.Range(0, full.Count).Where(i => !axes.Contains(i)).ToArray();
        var reduced = Enumerable.Range(0, full.Count).Where(axes.Contains).ToArray();
        var outerShape = kept.Select(i => full[i]).ToArray();
        var reducedShape = reduced.Select(i => full[i]).ToArray();

        // Strides of each input over the outer dims and over the reduced dims.
        var outerStrides = new Dim[inputs.Count + 1][];
        var reducedStrides = new Dim[inputs.Count][];
        outerStrides[0] = TensorView.ContiguousStrides(outerShape);
        for (int k = 0; k < inputs.Count; k++)
        {
            var v = inputs[k];
            if (v.Shape.SequenceEqual(full))
            {
                outerStrides[k + 1] = [.. kept.Select(i => v.Strides[i])];
                reducedStrides[k] = [.. reduced.Select(i => v.Strides[i])];
            }
            else if (v.Shape.SequenceEqual(red.Shape))
            {
                outerStrides[k + 1] = a.KeepDim ? [.. kept.Select(i => v.Strides[i])] : [.. v.Strides];
                reducedStrides[k] = [.. reduced.Select(_ => Dim.Zero)];
            }
            else
            {
                throw new InvalidOperationException($"a reduction's operand of shape [{string.Join(", ", v.Shape)}] is neither its input's nor its output's");
            }
        }

        var (oShape, oStrides) = Collapse(outerShape, outerStrides);
        var (rShape, rStrides) = Collapse(reducedShape, reducedStrides);
        int p = oShape.Length, q = rShape.Length;

        // Vector lanes along the reduced axis when every input the accumulator reads walks it contiguously (or not at
        // all); otherwise along the outer axis when every input walks that one contiguously.
        bool rowsContiguous = Enumerable.Range(0, inputs.Count).All(k => rStrides[k][q - 1].TryGetConstant() is 0 or 1);
        bool columnsContiguous = oShape[p - 1] != Dim.One && Enumerable.Range(0, inputs.Count).All(k => oStrides[k + 1][p - 1].TryGetConstant() is 0 or 1);
        var strategy = !rowsContiguous && columnsContiguous ? ReductionStrategy.Columns : ReductionStrategy.Rows;
        var specInputs = inputs.Select((v, k) => new ElementwiseInput(v.DType, AccessOf(strategy == ReductionStrategy.Rows ? rStrides[k][q - 1] : oStrides[k + 1][p - 1]))).ToList();
        var spec = new ReductionSpec(specInputs, ops, reduceAt, outDType, p, q, strategy);
        var operands = inputs.Select((v, k) => new KernelOperand(v.Slot, v.Offset, [.. oStrides[k + 1], .. rStrides[k]])).ToList();
        int outSlot = _kg.AddArena(outDType, [.. outShape]);
        _kg.Add(new ReductionCall(spec, outSlot, [.. oShape, .. rShape], operands, outShape.Numel, Prod(reducedShape), label));
        return TensorView.Dense(outSlot, outDType, [.. outShape]);
    }
}
