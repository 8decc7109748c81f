using Candle.Compiler.Ir;

namespace Candle.Compiler.Rewrite;

/// <summary>
/// Applies a <see cref="RuleSet"/> to a graph bottom-up until no rule fires (a fixed point). Each node is
/// rewritten after its operands; a replacement is itself offered to the rules again. A loop guard bounds both
/// the whole-graph sweeps and the rewrites of one node, and names the rules that kept firing.
/// </summary>
public static class Rewriter
{
    /// <summary>The default bound on whole-graph sweeps.</summary>
    public const int DefaultMaxIterations = 64;

    /// <summary>Rewrites <paramref name="graph"/> to a fixed point; returns the same object when no rule fires.</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="rules">The rules.</param>
    /// <param name="maxIterations">Sweeps (and rewrites of one node in one sweep) allowed before giving up.</param>
    /// <param name="fired">Optional: counts of firings per rule name are added here.</param>
    /// <exception cref="RewriteLoopException">The rules did not converge within the bound.</exception>
    public static Graph Rewrite(Graph graph, RuleSet rules, int maxIterations = DefaultMaxIterations, IDictionary<string, int>? fired = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        var current = graph;
        for (int iteration = 0; ; iteration++)
        {
            var sweep = new Dictionary<string, int>(StringComparer.Ordinal);
            var next = current.Rewrite(n => RewriteNode(n, rules, maxIterations, sweep));
            foreach (var kv in sweep)
            {
                if (fired is not null) fired[kv.Key] = fired.TryGetValue(kv.Key, out int c) ? c + kv.Value : kv.Value;
            }

            if (ReferenceEquals(next, current) || sweep.Count == 0) return next;
            if (iteration + 1 >= maxIterations)
            {
                var names = sweep.Keys.Order(StringComparer.Ordinal).ToList();
                throw new RewriteLoopException(
                    $"rewrite did not reach a fixed point after {maxIterations} sweeps; rules still firing: {string.Join(", ", names)}", names);
            }

            current = next;
        }
    }

    /// <summary>Rewrites one node (not its operands) until no rule applies.</summary>
    /// <exception cref="RewriteLoopException">The rules kept rewriting the node.</exception>
    public static Node RewriteNode(Node node, RuleSet rules, int maxIterations = DefaultMaxIterations) =>
        RewriteNode(node, rules, maxIterations, null) ?? node;

    private static Node? RewriteNode(Node node, RuleSet rules, int maxIterations, Dictionary<string, int>? fired)
    {
        var current = node;
        var local = new List<string>();
        for (int i = 0; ; i++)
        {
            if (rules.TryApply(current) is not { } hit) break;
            local.Add(hit.Rule.Name);
            if (fired is not null) fired[hit.Rule.Name] = fired.TryGetValue(hit.Rule.Name, out int c) ? c + 1 : 1;
            current = hit.Replacement;
            if (i + 1 >= maxIterations)
            {
                var names = local.Skip(local.Count / 2).Distinct().Order(StringComparer.Ordinal).ToList();
                throw new RewriteLoopException(
                    $"rules kept rewriting {node.Op.Name()} : {node.TypeString} ({maxIterations} rewrites); rules still firing: {string.Join(", ", names)}", names);
            }
        }

        return ReferenceEquals(current, node) ? null : current;
    }
}
