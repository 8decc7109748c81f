using System.Collections.Immutable;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// Removes what no output needs. A graph holds only nodes its outputs reach, so top-level dead nodes vanish by
/// construction; this pass cleans fused groups: body inputs the body no longer reads are dropped, and an
/// operand passed twice is passed once.
/// </summary>
public sealed class DeadCodeElimination : Pass
{
    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("dce", 1);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        // The nodes of one multi-output group share their body and inputs: they share the pruned body too.
        var pruned = new Dictionary<Graph, Graph>(ReferenceEqualityComparer.Instance);
        return graph.Rewrite(n => n.Op == Op.Fused ? Prune(n, pruned) : null);
    }

    private static HashSet<Node> Reachable(IEnumerable<Node> roots)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>(roots);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }

        return seen;
    }

    private static Node? Prune(Node fused, Dictionary<Graph, Graph> pruned)
    {
        var attrs = fused.Attr<FusedAttrs>();
        var body = attrs.Body;
        var used = Reachable(body.Outputs);
        var keep = new List<int>();
        var replace = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        var firstFor = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < body.Inputs.Length; i++)
        {
            if (!used.Contains(body.Inputs[i])) continue;
            if (firstFor.TryGetValue(fused.Inputs[i], out int j))
            {
                replace[body.Inputs[i]] = body.Inputs[j];
                continue;
            }

            firstFor[fused.Inputs[i]] = i;
            keep.Add(i);
        }

        if (keep.Count == body.Inputs.Length) return null;
        if (!pruned.TryGetValue(body, out var newBody))
        {
            newBody = replace.Count == 0
                ? new Graph(keep.Select(i => body.Inputs[i]), body.Outputs, body.OutputNames)
                : new Graph(keep.Select(i => body.Inputs[i]), body.Rewrite(n => replace.GetValueOrDefault(n)).Outputs, body.OutputNames);
            pruned[body] = newBody;
        }

        return Node.Create(Op.Fused, [.. keep.Select(i => fused.Inputs[i])], new FusedAttrs(newBody, attrs.Kind, attrs.Output));
    }
}
