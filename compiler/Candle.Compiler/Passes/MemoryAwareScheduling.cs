using Candle.Compiler.Analysis;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// Chooses an order of independent branches that lowers the peak of live intermediate bytes (greedy list
/// scheduling: among ready nodes, run the one that frees the most and allocates the least). The graph is
/// unchanged; the order is attached as a <see cref="Schedule"/> (also published in
/// <see cref="PassContext.Analyses"/> under <see cref="AnalysisKey"/>) and kept only when it beats the default order.
/// </summary>
public sealed class MemoryAwareScheduling : Pass
{
    /// <summary>Key of the <see cref="Schedule"/> in <see cref="PassContext.Analyses"/>.</summary>
    public const string AnalysisKey = "schedule";

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("memory-aware-scheduling", 3);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var schedule = Compute(graph);
        Schedule.Attach(graph, schedule);
        if (context is not null) context.Analyses[AnalysisKey] = schedule;
        return graph;
    }

    /// <summary>Computes the schedule of <paramref name="graph"/>.</summary>
    public static Schedule Compute(Graph graph, IReadOnlyDictionary<string, long>? bindings = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        long before = MemoryEstimate.PeakLiveBytes(graph, null, bindings);
        IReadOnlyList<Node> best = graph.Nodes;
        long after = before;
        foreach (var order in new[] { SubtreeFirst(graph, bindings), Greedy(graph, bindings) })
        {
            long peak = MemoryEstimate.PeakLiveBytes(graph, order, bindings);
            if (peak < after)
            {
                (best, after) = (order, peak);
            }
        }

        return new Schedule(best, before, after);
    }

    // Sethi-Ullman style: depth-first from the outputs, visiting first the operand whose subtree needs the most
    // memory beyond what its result keeps alive (exact for trees, a heuristic for shared subgraphs).
    private static List<Node> SubtreeFirst(Graph graph, IReadOnlyDictionary<string, long>? bindings)
    {
        var need = new Dictionary<Node, long>(ReferenceEqualityComparer.Instance);
        long Out(Node n) => MemoryEstimate.Allocates(n) ? MemoryEstimate.Bytes(n, bindings) : 0;
        IEnumerable<Node> Ordered(Node n) => n.Inputs.Distinct().OrderByDescending(i => need[i] - Out(i));
        foreach (var n in graph.Nodes)
        {
            long held = 0, peak = 0;
            foreach (var i in Ordered(n))
            {
                peak = Math.Max(peak, held + need[i]);
                held += Out(i);
            }

            need[n] = Math.Max(peak, held + Out(n));
        }

        var order = new List<Node>(graph.Nodes.Count);
        var done = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node Node, bool Expanded)>();
        foreach (var root in graph.Inputs.Concat(graph.Outputs.Reverse()))
        {
            stack.Push((root, false));
        }

        while (stack.Count > 0)
        {
            var (n, expanded) = stack.Pop();
            if (done.Contains(n)) continue;
            if (expanded)
            {
                done.Add(n);
                order.Add(n);
                continue;
            }

            stack.Push((n, true));
            foreach (var i in Ordered(n).Reverse())
            {
                if (!done.Contains(i)) stack.Push((i, false));
            }
        }

        return order;
    }

    private static List<Node> Greedy(Graph graph, IReadOnlyDictionary<string, long>? bindings)
    {
        var users = graph.Users;
        var position = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < graph.Nodes.Count; i++) position[graph.Nodes[i]] = i;
        var pendingInputs = graph.Nodes.ToDictionary<Node, Node, int>(n => n, n => n.Inputs.Distinct().Count(), ReferenceEqualityComparer.Instance);
        var remainingUsers = graph.Nodes.ToDictionary<Node, Node, int>(n => n, n => users[n].Count, ReferenceEqualityComparer.Instance);
        var ready = new List<Node>(graph.Nodes.Where(n => pendingInputs[n] == 0));
        var order = new List<Node>(graph.Nodes.Count);
        while (ready.Count > 0)
        {
            Node best = ready[0];
            long bestScore = long.MaxValue;
            foreach (var n in ready)
            {
                long alloc = MemoryEstimate.Allocates(n) ? MemoryEstimate.Bytes(n, bindings) : 0;
                long freed = n.Inputs.Distinct().Where(i => remainingUsers[i] == 1 && MemoryEstimate.Allocates(i)).Sum(i => MemoryEstimate.Bytes(i, bindings));
                long score = alloc - freed;
                if (score < bestScore || (score == bestScore && position[n] < position[best]))
                {
                    best = n;
                    bestScore = score;
                }
            }

            ready.Remove(best);
            order.Add(best);
            foreach (var i in best.Inputs.Distinct()) remainingUsers[i]--;
            foreach (var u in users[best])
            {
                if (--pendingInputs[u] == 0) ready.Add(u);
            }
        }

        return order;
    }
}
