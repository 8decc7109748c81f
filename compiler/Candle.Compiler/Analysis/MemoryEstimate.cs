using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Analysis;

/// <summary>
/// Peak live bytes of intermediate buffers when a graph's nodes run in a given order. A computed node's buffer
/// lives from its step to its last use (graph outputs to the end); views (reshape, expand, permute, slice, flip)
/// alias their operand and keep it alive; inputs, constants and fills are not counted (they are not allocated
/// by the plan). Symbolic dimensions take the values in the bindings, or <see cref="DefaultSymbolValue"/>.
/// </summary>
public static class MemoryEstimate
{
    /// <summary>The value used for a symbol with no binding.</summary>
    public const long DefaultSymbolValue = 64;

    /// <summary>Bytes of a node's result.</summary>
    public static long Bytes(Node node, IReadOnlyDictionary<string, long>? bindings = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        var b = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in node.Shape.Symbols) b[s] = bindings is not null && bindings.TryGetValue(s, out long v) ? v : DefaultSymbolValue;
        return node.Shape.Numel.Evaluate(b) * node.DType.SizeInBytes();
    }

    /// <summary>True when the node owns a buffer the plan allocates.</summary>
    public static bool Allocates(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return !node.Op.IsLeaf() && !node.Op.IsView();
    }

    /// <summary>Peak live bytes of <paramref name="graph"/> run in <paramref name="order"/> (default: <see cref="Graph.Nodes"/>).</summary>
    /// <exception cref="ArgumentException">The order is not a topological order of the graph's nodes.</exception>
    public static long PeakLiveBytes(Graph graph, IReadOnlyList<Node>? order = null, IReadOnlyDictionary<string, long>? bindings = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        order ??= graph.Nodes;
        var pos = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < order.Count; i++)
        {
            foreach (var inp in order[i].Inputs)
            {
                if (!pos.ContainsKey(inp)) throw new ArgumentException($"order runs {order[i]} before its operand {inp}", nameof(order));
            }

            pos[order[i]] = i;
        }

        // Last step at which each buffer-owning node is needed (following views back to their owner).
        var lastUse = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        void Touch(Node n, int step)
        {
            var owner = Owner(n);
            if (owner is not null && (!lastUse.TryGetValue(owner, out int s) || s < step)) lastUse[owner] = step;
        }

        for (int i = 0; i < order.Count; i++)
        {
            foreach (var inp in order[i].Inputs) Touch(inp, i);
            Touch(order[i], i);
        }

        foreach (var o in graph.Outputs) Touch(o, order.Count);
        long live = 0, peak = 0;
        var freeAt = new List<long>[order.Count + 1];
        for (int i = 0; i < order.Count; i++)
        {
            var n = order[i];
            if (Allocates(n))
            {
                long bytes = Bytes(n, bindings);
                live += bytes;
                int last = lastUse[n];
                (freeAt[last] ??= []).Add(bytes);
            }

            peak = Math.Max(peak, live);
            if (freeAt[i] is { } frees) live -= frees.Sum();
        }

        return peak;
    }

    private static Node? Owner(Node n)
    {
        while (n.Op.IsView()) n = n.Inputs[0];
        return Allocates(n) ? n : null;
    }
}
