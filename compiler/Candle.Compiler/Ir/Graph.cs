using System.Collections.Immutable;

namespace Candle.Compiler.Ir;

/// <summary>
/// An immutable computation: ordered inputs (Input nodes), ordered named outputs, and everything they
/// reach. Passes never mutate a graph; they build a new one (usually with <see cref="Rewrite"/>).
/// </summary>
public sealed class Graph
{
    private IReadOnlyList<Node>? _nodes;
    private IReadOnlyDictionary<Node, IReadOnlyList<Node>>? _users;

    /// <summary>Creates a graph.</summary>
    /// <exception cref="IrException">An input is not an Input node, or output names do not match the outputs.</exception>
    public Graph(IEnumerable<Node> inputs, IEnumerable<Node> outputs, IEnumerable<string>? outputNames = null)
    {
        Inputs = [.. inputs];
        Outputs = [.. outputs];
        OutputNames = outputNames is null ? [.. Outputs.Select((_, i) => $"output{i}")] : [.. outputNames];
        foreach (var i in Inputs)
        {
            if (i.Op != Op.Input) throw new IrException($"graph input {i} is not an Input node");
        }

        if (OutputNames.Length != Outputs.Length)
        {
            throw new IrException($"graph has {Outputs.Length} outputs but {OutputNames.Length} output names");
        }
    }

    /// <summary>The inputs, in calling order.</summary>
    public ImmutableArray<Node> Inputs { get; }

    /// <summary>The outputs, in result order.</summary>
    public ImmutableArray<Node> Outputs { get; }

    /// <summary>Names of the outputs.</summary>
    public ImmutableArray<string> OutputNames { get; }

    /// <summary>Every node reachable from the outputs (and every input), in a topological order: operands first.</summary>
    public IReadOnlyList<Node> Nodes => _nodes ??= TopologicalOrder();

    /// <summary>For each node, the nodes that use it (each user once).</summary>
    public IReadOnlyDictionary<Node, IReadOnlyList<Node>> Users => _users ??= BuildUsers();

    /// <summary>The symbolic dimension names the inputs mention.</summary>
    public IReadOnlyList<string> Symbols => [.. Inputs.SelectMany(i => i.Shape.Symbols).Distinct()];

    /// <summary>A graph with the same inputs and other outputs.</summary>
    public Graph WithOutputs(IEnumerable<Node> outputs) => new(Inputs, outputs, OutputNames);

    /// <summary>
    /// Rebuilds the graph bottom-up: each node's inputs are replaced by their rewritten versions, then
    /// <paramref name="rewrite"/> may return a replacement (or null to keep the node with the new inputs).
    /// Returns <c>this</c> when nothing changed.
    /// </summary>
    public Graph Rewrite(Func<Node, Node?> rewrite)
    {
        var map = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        foreach (var n in Nodes)
        {
            var ins = n.Inputs.Select(i => map[i]).ToImmutableArray();
            var rebuilt = n.WithInputs(ins);
            map[n] = rewrite(rebuilt) ?? rebuilt;
        }

        var outs = Outputs.Select(o => map[o]).ToImmutableArray();
        var newInputs = Inputs.Select(i => map[i]).ToImmutableArray();
        if (Enumerable.SequenceEqual(outs, Outputs, ReferenceEqualityComparer.Instance) && Enumerable.SequenceEqual(newInputs, Inputs, ReferenceEqualityComparer.Instance))
        {
            return this;
        }

        return new Graph(newInputs, outs, OutputNames);
    }

    private List<Node> TopologicalOrder()
    {
        var order = new List<Node>();
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node Node, int Next)>();
        foreach (var root in Inputs.Concat(Outputs))
        {
            if (!seen.Add(root)) continue;
            stack.Push((root, 0));
            while (stack.Count > 0)
            {
                var (n, next) = stack.Pop();
                if (next < n.Inputs.Length)
                {
                    stack.Push((n, next + 1));
                    var child = n.Inputs[next];
                    if (seen.Add(child)) stack.Push((child, 0));
                }
                else
                {
                    order.Add(n);
                }
            }
        }

        return order;
    }

    private Dictionary<Node, IReadOnlyList<Node>> BuildUsers()
    {
        var users = new Dictionary<Node, List<Node>>(ReferenceEqualityComparer.Instance);
        foreach (var n in Nodes)
        {
            users.TryAdd(n, []);
            foreach (var i in n.Inputs.Distinct())
            {
                if (!users.TryGetValue(i, out var l)) users[i] = l = [];
                l.Add(n);
            }
        }

        var result = new Dictionary<Node, IReadOnlyList<Node>>(ReferenceEqualityComparer.Instance);
        foreach (var kv in users) result[kv.Key] = kv.Value;
        return result;
    }

    /// <inheritdoc/>
    public override string ToString() => IrPrinter.Print(this);
}
