using Candle.Compiler.Ir;

namespace Candle.Compiler.Rewrite;

/// <summary>
/// A rewrite rule: when <see cref="Pattern"/> matches a node, <see cref="Rewrite"/> returns its replacement
/// (same dtype and shape), or null to decline (the next way the pattern matches is then tried). Returning the matched node itself also declines.
/// </summary>
/// <param name="Name">A unique, readable name (shown in loop-guard errors and logs).</param>
/// <param name="Pattern">What the rule matches.</param>
/// <param name="Rewrite">Builds the replacement from the match.</param>
public sealed record Rule(string Name, Pattern Pattern, Func<Match, Node?> Rewrite)
{
    /// <summary>The replacement for <paramref name="node"/>, or null when the rule does not apply.</summary>
    public Node? TryApply(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        foreach (var m in Pattern.MatchAll(node))
        {
            var r = Rewrite(m);
            if (r is null || ReferenceEquals(r, node)) continue;
            Check(node, r);
            return r;
        }

        return null;
    }

    private void Check(Node node, Node r)
    {
        if (r.DType != node.DType || !r.Shape.Equals(node.Shape))
        {
            throw new IrException($"rule '{Name}' replaced {node.TypeString} {node.Op.Name()} with {r.TypeString} {r.Op.Name()}: a rewrite must keep dtype and shape");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Pattern}";
}
