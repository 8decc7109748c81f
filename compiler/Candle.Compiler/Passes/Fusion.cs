using System.Collections.Immutable;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// Groups nodes into <see cref="Op.Fused"/> kernels (TVM/Inductor style): elementwise chains; a reduction with
/// its elementwise producers and consumers; reductions over a row whose results are broadcast back over it and
/// combined with it (norms and softmax written from primitives); a matmul with its elementwise epilogue (bias,
/// activation, residual, scale), and a quantized product (<see cref="Op.QuantMatMul"/>) with its epilogue likewise (its
/// quantized weight is inlined into the body, like a fill); a float32 convolution with a ReLU, a residual add, or both, after it. Attention stays the composite <see cref="Op.Attention"/>. Nodes are visited from the outputs up; a node
/// joins the group of its users only when all its users are in that one group, so nothing is computed twice and
/// no cycle can form (<see cref="Analysis.DataflowGraph.MergingCreatesCycle"/> holds false for every group). Where the
/// target fuses <see cref="FusedKinds.MultiOutput"/>, a graph output all of whose users are in one float-domain
/// elementwise group joins it as a further output (an optimizer's new moments beside the new parameter): the group
/// becomes one <see cref="Op.Fused"/> node per output over one body (<see cref="FusedAttrs.Output"/>).
/// Fills are inlined into bodies as literals. Body inputs are named in0, in1, ... and bind to the fused node's inputs.
/// </summary>
public sealed class Fusion : Pass
{
    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("fusion", 2);

    /// <summary>The groups fusion forms on <paramref name="graph"/> (groups of one node included).</summary>
    public static IReadOnlyList<FusionGroup> FindGroups(Graph graph) => FindGroups(graph, null);

    /// <summary>
    /// The groups fusion forms on <paramref name="graph"/> for a target that fuses the kinds
    /// <paramref name="capabilities"/> names (every kind when null): a reduction or matmul joins no group when its
    /// kind is not fused there, except that where reduce_broadcast is fused without reduce groups (the GPU) a reduction
    /// joins the reduce_broadcast group that reads it, and no other.
    /// </summary>
    public static IReadOnlyList<FusionGroup> FindGroups(Graph graph, Backends.BackendCapabilities? capabilities)
    {
        ArgumentNullException.ThrowIfNull(graph);
        bool reduceGroups = Fuses(capabilities, FusedKinds.Reduce);
        bool IsFusible(Node n) =>
            (n.Op.IsElementwise() && Fuses(capabilities, FusedKinds.Elementwise))
            || (n.Op.IsReduce() && (reduceGroups || Fuses(capabilities, FusedKinds.ReduceBroadcast)) && FusionGroup.IsGeneratedReduction(n))
            || (n.Op == Op.MatMul && Fuses(capabilities, FusedKinds.MatMulEpilogue))
            || (n.Op == Op.QuantMatMul && Fuses(capabilities, FusedKinds.QuantMatMulEpilogue))
            || (n.Op == Op.Conv && Fuses(capabilities, FusedKinds.ConvEpilogue))
            || (n.Op == Op.Expand && Fuses(capabilities, FusedKinds.ReduceBroadcast));
        bool multiOutput = Fuses(capabilities, FusedKinds.MultiOutput);
        var users = graph.Users;
        var outputs = new HashSet<Node>(graph.Outputs, ReferenceEqualityComparer.Instance);
        var groupOf = new Dictionary<Node, FusionGroup>(ReferenceEqualityComparer.Instance);
        var groups = new List<FusionGroup>();
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            var n = graph.Nodes[i];
            if (!IsFusible(n)) continue;
            FusionGroup? target = null;
            bool isOutput = outputs.Contains(n);
            if ((!isOutput || multiOutput) && users[n].Count > 0 && groupOf.TryGetValue(users[n][0], out var g) && users[n].All(u => groupOf.GetValueOrDefault(u) == g))
            {
                target = g;
            }

            if (isOutput && target is not null)
            {
                // A graph output used otherwise only inside one group: a further output of that group, or a group of its own.
                if (target.CanAcceptOutput(n))
                {
                    target.AddOutput(n);
                    groupOf[n] = target;
                    continue;
                }

                target = null;
            }

            if (n.Op.IsReduce() && !reduceGroups)
            {
                // A target without reduce groups fuses a reduction only into the reduce_broadcast group that reads it.
                if (target is { RowShape: not null } && target.CanAccept(n))
                {
                    target.Add(n);
                    groupOf[n] = target;
                }

                continue;
            }

            if (n.Op == Op.Expand)
            {
                // A broadcast joins only a group it turns into (or extends as) a reduce_broadcast group.
                if (target is not null && target.CanAcceptBroadcast(n, users, outputs))
                {
                    target.Add(n);
                    groupOf[n] = target;
                }

                continue;
            }

            if (target is not null && target.CanAccept(n))
            {
                target.Add(n);
                groupOf[n] = target;
            }
            else
            {
                var fresh = new FusionGroup(n);
                groups.Add(fresh);
                groupOf[n] = fresh;
            }
        }

        return groups;
    }

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (context?.Capabilities is { SupportsFusedGroups: false }) return graph;
        var byRoot = FindGroups(graph, context?.Capabilities).Where(g => g.Members.Count >= 2).ToDictionary<FusionGroup, Node>(g => g.Root, ReferenceEqualityComparer.Instance);
        if (byRoot.Count == 0) return graph;
        var inner = new HashSet<Node>(byRoot.Values.SelectMany(g => g.Members.Where(m => !ReferenceEquals(m, g.Root))), ReferenceEqualityComparer.Instance);
        var map = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            if (inner.Contains(n)) continue;
            if (byRoot.TryGetValue(n, out var group))
            {
                var fused = Build(group, graph, map);
                for (int k = 0; k < fused.Length; k++) map[group.Outputs[k]] = fused[k];
            }
            else
            {
                map[n] = n.WithInputs([.. n.Inputs.Select(i => map[i])]);
            }
        }

        return new Graph(graph.Inputs.Select(i => map[i]), graph.Outputs.Select(o => map[o]), graph.OutputNames);
    }

    private static bool Fuses(Backends.BackendCapabilities? capabilities, string kind) => capabilities?.Fuses(kind) ?? true;

    // One fused node per output of the group, in the order of its outputs.
    private static Node[] Build(FusionGroup group, Graph graph, Dictionary<Node, Node> outer)
    {
        var bodyOf = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        var bodyInputs = new List<Node>();
        var operands = new List<Node>();

        // A fill is inlined as a literal when the body's other inputs define the symbols of its shape.
        var defined = group.Members.SelectMany(m => m.Inputs).Where(i => !group.Members.Contains(i) && i.Op != Op.Full)
            .SelectMany(i => i.Shape.Symbols).ToHashSet(StringComparer.Ordinal);
        Node Operand(Node external)
        {
            if (bodyOf.TryGetValue(external, out var b)) return b;
            if ((external.Op == Op.Full && external.Shape.Symbols.All(defined.Contains)) || external.Op == Op.QuantConstant)
            {
                b = external;
            }
            else
            {
                b = IrBuilder.Input($"in{bodyInputs.Count}", external.DType, external.Shape);
                bodyInputs.Add(b);
                operands.Add(outer[external]);
            }

            bodyOf[external] = b;
            return b;
        }

        foreach (var m in graph.Nodes.Where(group.Members.Contains))
        {
            var ins = m.Inputs.Select(i => group.Members.Contains(i) ? bodyOf[i] : Operand(i)).ToImmutableArray();
            bodyOf[m] = Node.Create(m.Op, ins, m.Attrs);
        }

        var body = new Graph(bodyInputs, [.. group.Outputs.Select(o => bodyOf[o])], [.. group.Outputs.Select((_, k) => k == 0 ? "out" : $"out{k}")]);
        return [.. group.Outputs.Select((_, k) => IrBuilder.Fused(body, group.Kind, operands, k))];
    }
}
