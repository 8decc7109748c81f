using System.Collections.Immutable;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Lowers the nodes of a multi-output elementwise group (<paramref name="siblings"/> by output, computing the body
    /// values <paramref name="results"/>; <paramref name="node"/> is one of them) as one generated kernel that reads
    /// each input once and writes every output (<see cref="ElementwiseSpec.Stores"/>). Each output is written in place
    /// of a donated input or an arena operand when nothing after the group reads that buffer (as
    /// <see cref="ElementwiseTarget"/> decides for one output, counting the reads of the whole group as its own), else
    /// into a new arena buffer. The other nodes' values are recorded as scheduled ahead.
    /// </summary>
    private TensorView EmitMultiOutput(Node node, List<Node> siblings, Node[] results, TensorView[] ins)
    {
        var body = node.Attr<FusedAttrs>().Body;
        var (ops, kernelInputs, alsoAt) = Linearize(body.Nodes, results[0], n => n.Op == Op.Input ? ins[body.Inputs.IndexOf(n)] : null, results[1..]);

        // The donated inputs each output is computed from; outputs computed from fewer choose their buffer first, each
        // preferring the inputs fewest outputs are computed from, so a new moment takes its own state's buffer and the
        // new parameter, computed from all of them, the parameter's.
        var donatedFrom = results.Select(r => DonatedOperands(body, r, node.Inputs)).ToArray();
        foreach (var list in donatedFrom)
        {
            var order = list.OrderBy(d => donatedFrom.Count(l => l.Contains(d))).ToList();
            list.Clear();
            list.AddRange(order);
        }

        var taken = new HashSet<int>();
        var slots = new int[siblings.Count];
        foreach (int k in Enumerable.Range(0, siblings.Count).OrderBy(k => donatedFrom[k].Count))
        {
            slots[k] = GroupTarget(siblings, siblings[k], donatedFrom[k], kernelInputs, taken);
            taken.Add(slots[k]);
        }

        var primary = siblings[0];
        var call = ElementwiseKernel(ops, kernelInputs, primary.DType, primary.Shape, slots[0], $"fused {node.Attr<FusedAttrs>().Kind} ×{siblings.Count}");
        var stores = new List<ElementwiseStore>();
        for (int k = 1; k < siblings.Count; k++) stores.Add(new ElementwiseStore(alsoAt[k - 1], siblings[k].DType));
        _kg.Add(call with { Kernel = call.Kernel with { Stores = stores }, StoreSlots = [.. slots[1..]] });
        TensorView? own = null;
        for (int k = 0; k < siblings.Count; k++)
        {
            var value = TensorView.Dense(slots[k], siblings[k].DType, siblings[k].Shape);
            if (ReferenceEquals(siblings[k], node)) own = value;
            else ScheduledAhead(siblings[k], value);
        }

        return own!;
    }

    /// <summary>The donated graph inputs (read directly or through views) that body value <paramref name="result"/> is computed from.</summary>
    private List<Node> DonatedOperands(Graph body, Node result, ImmutableArray<Node> operands)
    {
        var found = new List<Node>();
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>([result]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            if (n.Op == Op.Input)
            {
                var o = operands[body.Inputs.IndexOf(n)];
                while (o.Op.IsView() && o.Inputs.Length == 1) o = o.Inputs[0];
                if (_donated.Contains(o) && !found.Contains(o)) found.Add(o);
                continue;
            }

            foreach (var i in n.Inputs) stack.Push(i);
        }

        return found;
    }

    /// <summary>
    /// The buffer output <paramref name="output"/> of a multi-output group writes: the buffer of one of the donated
    /// inputs it is computed from (<paramref name="donated"/>, for a graph output) or an arena operand's of its size,
    /// whose every read still to come is the group's, read densely in the output's layout and not
    /// <paramref name="taken"/> by another output of the group; otherwise a new arena buffer.
    /// </summary>
    private int GroupTarget(List<Node> group, Node output, List<Node> donated, List<TensorView> inputs, HashSet<int> taken)
    {
        bool DenseHere(int slot) => inputs.All(v => v.Slot != slot || (v.IsDense && v.DType == output.DType && v.Shape.SequenceEqual(output.Shape)));
        if (_graphOutputs.Contains(output))
        {
            foreach (var d in donated)
            {
                int mine = group.Count(s => _donatedReads.GetValueOrDefault(s)?.Contains(d) == true);
                int slot = _donatedSlots[d];
                if (_pendingReaders[d] != mine || d.DType != output.DType || !d.Shape.Equals(output.Shape) || taken.Contains(slot)) continue;
                if (inputs.Any(v => v.Slot == slot) && DenseHere(slot)) return slot;
            }
        }

        Dim bytes = output.Shape.Numel * output.DType.SizeInBytes();
        foreach (var slot in inputs.Select(ArenaSlot).OfType<int>().Distinct())
        {
            int mine = group.Sum(s => s.Inputs.Count(i => _graphValues.TryGetValue(i, out var v) && !v.IsConstant && v.Slot == slot));
            if (mine > 0 && _arenaReads.GetValueOrDefault(slot) == mine && !taken.Contains(slot) && _kg.BytesOf(slot) == bytes && DenseHere(slot)) return slot;
        }

        return _kg.AddArena(output.DType, [.. output.Shape]);
    }

    /// <summary>Compares input lists by the identity of their nodes.</summary>
    private sealed class InputsComparer : IEqualityComparer<ImmutableArray<Node>>
    {
        public static InputsComparer Instance { get; } = new();

        public bool Equals(ImmutableArray<Node> x, ImmutableArray<Node> y)
        {
            if (x.Length != y.Length) return false;
            for (int i = 0; i < x.Length; i++)
            {
                if (!ReferenceEquals(x[i], y[i])) return false;
            }

            return true;
        }

        public int GetHashCode(ImmutableArray<Node> obj)
        {
            var h = default(HashCode);
            foreach (var n in obj) h.Add(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(n));
            return h.ToHashCode();
        }
    }
}
