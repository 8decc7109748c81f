using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Plans;

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

    // For each arena buffer, the reads still to come of the graph's values that live in it: a graph node not yet
    // scheduled reading such a value counts once per input edge, a graph output for ever. Nodes of fused bodies are
    // not counted, so a kernel inside a body never writes over an arena buffer.
    private readonly Dictionary<int, int> _arenaReads = [];

    // The graph's own nodes and their values (not those of fused bodies).
    private readonly HashSet<Node> _graphNodes = new(ReferenceEqualityComparer.Instance);
    private Dictionary<Node, TensorView> _graphValues = new(ReferenceEqualityComparer.Instance);

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
    /// Marks graph node <paramref name="node"/> as scheduled for the arena buffers' read counts: its reads of its
    /// inputs' buffers are done, and its own value's buffer gains the reads of its users.
    /// </summary>
    private void DoneReadingArena(Node node)
    {
        if (!_graphNodes.Contains(node)) return;
        foreach (var i in node.Inputs)
        {
            if (_graphValues.TryGetValue(i, out var v) && ArenaSlot(v) is int s) _arenaReads[s]--;
        }

        if (_graphValues.TryGetValue(node, out var own) && ArenaSlot(own) is int o)
        {
            _arenaReads[o] = _arenaReads.GetValueOrDefault(o) + _uses.GetValueOrDefault(node);
        }
    }

    /// <summary>True when every read of arena buffer <paramref name="slot"/> still to come is graph node <paramref name="node"/>'s own.</summary>
    private bool ReadsLast(Node node, int slot)
    {
        int mine = node.Inputs.Count(i => _graphValues.TryGetValue(i, out var v) && !v.IsConstant && v.Slot == slot);
        return mine > 0 && _arenaReads.GetValueOrDefault(slot) == mine;
    }

    private int? ArenaSlot(TensorView v) => !v.IsConstant && v.Slot >= 0 && _kg.KindOf(v.Slot) == BufferKind.Arena ? v.Slot : null;

    /// <summary>
    /// The buffer a generated elementwise kernel computing <paramref name="node"/> writes. Each element of the output
    /// is computed from the same element of a dense operand in the output's layout, read before it is overwritten, so
    /// the kernel may write over such an operand's buffer when nothing after it reads that buffer: for a graph output,
    /// a donated input's buffer (how an optimizer's update writes parameters and state in place); for any graph node,
    /// an arena buffer of the same size whose every remaining read is this node's (how a gated MLP's product takes
    /// the place of its dying gate). Otherwise a new arena buffer.
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

        if (node is not null && _graphNodes.Contains(node))
        {
            Dim bytes = outShape.Numel * outDType.SizeInBytes();
            foreach (var slot in inputs.Select(ArenaSlot).OfType<int>().Distinct())
            {
                if (ReadsLast(node, slot) && _kg.BytesOf(slot) == bytes
                    && inputs.All(v => v.Slot != slot || (v.IsDense && v.DType == outDType && v.Shape.SequenceEqual(outShape))))
                {
                    return slot;
                }
            }
        }

        return _kg.AddArena(outDType, [.. outShape]);
    }
}
