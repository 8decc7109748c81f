using Candle.Compiler.Ir;
using QuikGraph;
using QuikGraph.Algorithms;

namespace Candle.Compiler.Analysis;

/// <summary>
/// The data-flow graph of an IR <see cref="Graph"/> as a QuikGraph <see cref="BidirectionalGraph{TVertex, TEdge}"/>:
/// one vertex per node, one edge from each operand to each node that uses it (repeated operands give one edge).
/// Answers the questions passes ask: topological order, reachability, cycle checks and fusion legality.
/// </summary>
public sealed class DataflowGraph
{
    private DataflowGraph(Graph source, BidirectionalGraph<Node, Edge<Node>> graph)
    {
        Source = source;
        Graph = graph;
    }

    /// <summary>The IR graph this was built from.</summary>
    public Graph Source { get; }

    /// <summary>The QuikGraph structure (vertices are nodes, compared by reference).</summary>
    public BidirectionalGraph<Node, Edge<Node>> Graph { get; }

    /// <summary>Builds the data-flow graph of <paramref name="graph"/>.</summary>
    public static DataflowGraph Build(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var g = new BidirectionalGraph<Node, Edge<Node>>(allowParallelEdges: false);
        foreach (var n in graph.Nodes)
        {
            g.AddVertex(n);
            foreach (var i in n.Inputs.Distinct())
            {
                g.AddEdge(new Edge<Node>(i, n));
            }
        }

        return new DataflowGraph(graph, g);
    }

    /// <summary>Operands first, computed by QuikGraph's topological sort.</summary>
    /// <exception cref="NonAcyclicGraphException">The graph has a cycle.</exception>
    public IReadOnlyList<Node> TopologicalOrder() => [.. Graph.TopologicalSort()];

    /// <summary>True when the graph has no directed cycle.</summary>
    public bool IsAcyclic => Graph.IsDirectedAcyclicGraph();

    /// <summary>The nodes that use <paramref name="node"/>.</summary>
    public IEnumerable<Node> Successors(Node node) => Graph.OutEdges(node).Select(e => e.Target);

    /// <summary>The distinct operands of <paramref name="node"/>.</summary>
    public IEnumerable<Node> Predecessors(Node node) => Graph.InEdges(node).Select(e => e.Source);

    /// <summary>True when a directed path leads from <paramref name="from"/> to <paramref name="to"/> (a node reaches itself).</summary>
    public bool HasPath(Node from, Node to) => Reaches([from], n => ReferenceEquals(n, to), skipDirectTo: null);

    /// <summary>
    /// True when a path leads from <paramref name="from"/> to <paramref name="to"/> other than the direct edge
    /// (a path through at least one other node). Fusing <paramref name="from"/> with its user <paramref name="to"/>
    /// would create a cycle exactly when such a path exists.
    /// </summary>
    public bool HasIndirectPath(Node from, Node to) =>
        Successors(from).Any(s => !ReferenceEquals(s, to) && HasPath(s, to));

    /// <summary>
    /// True when collapsing <paramref name="group"/> into one node would create a cycle: some path leaves the
    /// group and comes back into it.
    /// </summary>
    public bool MergingCreatesCycle(IReadOnlySet<Node> group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var exits = group.SelectMany(Successors).Where(s => !group.Contains(s)).ToList();
        return exits.Count > 0 && Reaches(exits, group.Contains, skipDirectTo: null);
    }

    private bool Reaches(IEnumerable<Node> starts, Func<Node, bool> target, Node? skipDirectTo)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        foreach (var s in starts)
        {
            if (seen.Add(s)) stack.Push(s);
        }

        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (target(n)) return true;
            foreach (var s in Successors(n))
            {
                if (!ReferenceEquals(s, skipDirectTo) && seen.Add(s)) stack.Push(s);
            }
        }

        return false;
    }
}
