using Candle.Compiler.Ir;

namespace Candle.Compiler.Analysis;

/// <summary>
/// Dominators (or post-dominators) of a data-flow graph, computed with the iterative algorithm of Cooper,
/// Harvey and Kennedy over the QuikGraph structure. A virtual root stands before every source (graph inputs
/// and leaves) for dominators, or after every graph output for post-dominators; a node whose immediate
/// dominator is that virtual root reports <c>null</c>.
/// </summary>
public sealed class DominatorTree
{
    private readonly Dictionary<Node, Node?> _idom;

    private DominatorTree(Dictionary<Node, Node?> idom, bool post)
    {
        _idom = idom;
        IsPostDominatorTree = post;
    }

    /// <summary>True for post-dominators (paths to the outputs), false for dominators (paths from the sources).</summary>
    public bool IsPostDominatorTree { get; }

    /// <summary>Dominators: <c>a</c> dominates <c>b</c> when every path from a source to <c>b</c> passes through <c>a</c>.</summary>
    public static DominatorTree Dominators(DataflowGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var order = graph.TopologicalOrder();
        return Compute(order, graph.Predecessors, post: false);
    }

    /// <summary>Post-dominators: <c>a</c> post-dominates <c>b</c> when every path from <c>b</c> to a graph output passes through <c>a</c>.</summary>
    public static DominatorTree PostDominators(DataflowGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var order = graph.TopologicalOrder().Reverse().ToList();
        var outputs = new HashSet<Node>(graph.Source.Outputs, ReferenceEqualityComparer.Instance);

        // Graph outputs also flow to the virtual exit, so a node that is an output is post-dominated by nothing else.
        IEnumerable<Node> Preds(Node n) => outputs.Contains(n) ? [] : graph.Successors(n);
        return Compute(order, Preds, post: true, forcedRoots: outputs);
    }

    /// <summary>The immediate dominator, or null when it is the virtual root (or the node is unknown).</summary>
    public Node? ImmediateDominator(Node node) => _idom.GetValueOrDefault(node);

    /// <summary>True when <paramref name="a"/> dominates <paramref name="b"/> (every node dominates itself).</summary>
    public bool Dominates(Node a, Node b)
    {
        for (Node? n = b; n is not null; n = _idom.GetValueOrDefault(n))
        {
            if (ReferenceEquals(n, a)) return true;
        }

        return false;
    }

    private static DominatorTree Compute(IReadOnlyList<Node> order, Func<Node, IEnumerable<Node>> preds, bool post, IReadOnlySet<Node>? forcedRoots = null)
    {
        // Index 0 is the virtual root; nodes are numbered in reverse post-order (a topological order works for a DAG).
        var index = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < order.Count; i++) index[order[i]] = i + 1;
        var predIdx = new int[order.Count + 1][];
        predIdx[0] = [];
        for (int i = 0; i < order.Count; i++)
        {
            var p = preds(order[i]).Where(index.ContainsKey).Select(x => index[x]).ToArray();
            bool root = p.Length == 0 || (forcedRoots?.Contains(order[i]) ?? false);
            predIdx[i + 1] = root ? [0] : p;
        }

        var idom = new int[order.Count + 1];
        Array.Fill(idom, -1);
        idom[0] = 0;
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int b = 1; b < idom.Length; b++)
            {
                int newIdom = -1;
                foreach (int p in predIdx[b])
                {
                    if (idom[p] < 0) continue;
                    newIdom = newIdom < 0 ? p : Intersect(idom, p, newIdom);
                }

                if (newIdom >= 0 && idom[b] != newIdom)
                {
                    idom[b] = newIdom;
                    changed = true;
                }
            }
        }

        var result = new Dictionary<Node, Node?>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < order.Count; i++) result[order[i]] = idom[i + 1] <= 0 ? null : order[idom[i + 1] - 1];
        return new DominatorTree(result, post);
    }

    private static int Intersect(int[] idom, int a, int b)
    {
        while (a != b)
        {
            while (a > b) a = idom[a];
            while (b > a) b = idom[b];
        }

        return a;
    }
}
