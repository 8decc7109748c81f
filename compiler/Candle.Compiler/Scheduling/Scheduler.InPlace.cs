using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    // For each donated input, how many nodes that read its buffer (directly or through views) are still to be
    // scheduled; graph outputs that are the input or a view of it count as readers that never finish.
    private readonly Dictionary<Node, int> _pendingReaders = new(ReferenceEqualityComparer.Instance);

    // For each node that is not a view, the donated inputs whose buffers it reads (directly or through views).
    private readonly Dictionary<Node, Node[]> _donatedReads = new(ReferenceEqualityComparer.Instance);

    // The graph's outputs: an elementwise result that is one may be written into a donated input's buffer.
    private readonly HashSet<Node> _graphOutputs = new(ReferenceEqualityComparer.Instance);

    // The buffer of each donated input.
    private readonly Dictionary<Node, int> _donatedSlots = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Counts, for every donated input, the nodes that read its buffer. A view reads nothing itself: its readers are
    /// the nodes that read the view.
    /// </summary>
    private void CountDonatedReaders(Graph graph, Dictionary<Node, TensorView> values)
    {
        var through = new Dictionary<Node, Node[]>(ReferenceEqualityComparer.Instance);
        foreach (var d in _donated)
        {
            through[d] = [d];
            _pendingReaders[d] = 0;
            _donatedSlots[d] = values[d].Slot;
        }

        foreach (var n in graph.Nodes)
        {
            if (n.Op == Op.Input) continue;
            var reads = n.Inputs.SelectMany(i => through.GetValueOrDefault(i) ?? []).Distinct(ReferenceEqualityComparer.Instance).Cast<Node>().ToArray();
            if (reads.Length == 0) continue;
            if (n.Op.IsView())
            {
                through[n] = reads;
                continue;
            }

            _donatedReads[n] = reads;
            foreach (var d in reads) _pendingReaders[d]++;
        }

        foreach (var o in graph.Outputs)
        {
            _graphOutputs.Add(o);
            foreach (var d in through.GetValueOrDefault(o) ?? []) _pendingReaders[d]++;
        }
    }

    /// <summary>Marks <paramref name="node"/> as scheduled: it no longer holds the donated buffers it read.</summary>
    private void DoneReading(Node node)
    {
        foreach (var d in _donatedReads.GetValueOrDefault(node) ?? []) _pendingReaders[d]--;
    }

    /// <summary>
    /// The buffer a generated elementwise kernel computing graph output <paramref name="node"/> writes: the buffer of
    /// a donated input the kernel reads when nothing after it reads that buffer and every operand on it is the whole
    /// buffer read densely in the output's layout (each element is read before it is overwritten, by the same
    /// element's computation); otherwise a new arena buffer. This is how an optimizer's update writes parameters and
    /// state in place.
    /// </summary>
    private int ElementwiseTarget(Node? node, List<TensorView> inputs, DType outDType, Shape outShape)
    {
        if (node is not null && _graphOutputs.Contains(node) && _donatedReads.TryGetValue(node, out var reads))
        {
            foreach (var d in reads)
            {
                if (_pendingReaders[d] != 1 || d.DType != outDType || !d.Shape.Equals(outShape)) continue;
                int slot = _donatedSlots[d];
                if (inputs.Any(v => v.Slot == slot) && inputs.All(v => v.Slot != slot || (v.IsDense && v.DType == outDType && v.Shape.SequenceEqual(outShape))))
                {
                    return slot;
                }
            }
        }

        return _kg.AddArena(outDType, [.. outShape]);
    }
}
