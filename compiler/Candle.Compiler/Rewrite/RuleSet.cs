using System.Collections;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Rewrite;

/// <summary>
/// An ordered collection of rules indexed by the op of their root pattern, so a node is only tried against
/// rules that can match it (plus the rules rooted at a group or "any"). Earlier rules win.
/// </summary>
public sealed class RuleSet : IEnumerable<Rule>
{
    private readonly List<Rule> _rules = [];
    private readonly Dictionary<Op, List<Rule>> _byOp = [];
    private readonly List<Rule> _generic = [];

    /// <summary>An empty rule set.</summary>
    public RuleSet()
    {
    }

    /// <summary>A rule set holding <paramref name="rules"/> in order.</summary>
    public RuleSet(IEnumerable<Rule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        foreach (var r in rules) Add(r);
    }

    /// <summary>The number of rules.</summary>
    public int Count => _rules.Count;

    /// <summary>Adds a rule (after the existing ones).</summary>
    /// <exception cref="ArgumentException">A rule with the same name exists.</exception>
    public void Add(Rule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (_rules.Any(r => r.Name == rule.Name)) throw new ArgumentException($"rule set already has a rule named '{rule.Name}'", nameof(rule));
        _rules.Add(rule);
        if (rule.Pattern.RootOp is { } op)
        {
            if (!_byOp.TryGetValue(op, out var list)) _byOp[op] = list = [];
            list.Add(rule);
        }
        else
        {
            _generic.Add(rule);
        }
    }

    /// <summary>Adds a rule built from its parts.</summary>
    public void Add(string name, Pattern pattern, Func<Match, Node?> rewrite) => Add(new Rule(name, pattern, rewrite));

    /// <summary>The rules and then those of <paramref name="other"/>.</summary>
    public RuleSet Concat(RuleSet other) => new(_rules.Concat(other ?? throw new ArgumentNullException(nameof(other))));

    /// <summary>The rules that might match a node of <paramref name="op"/>, in rule-set order.</summary>
    public IEnumerable<Rule> Candidates(Op op)
    {
        if (_generic.Count == 0) return _byOp.TryGetValue(op, out var only) ? only : [];
        if (!_byOp.TryGetValue(op, out var list)) return _generic;
        return _rules.Where(r => r.Pattern.RootOp is null || r.Pattern.RootOp == op);
    }

    /// <summary>The first rule that rewrites <paramref name="node"/> and its replacement, or null.</summary>
    public (Rule Rule, Node Replacement)? TryApply(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        foreach (var r in Candidates(node.Op))
        {
            if (r.TryApply(node) is { } repl) return (r, repl);
        }

        return null;
    }

    /// <inheritdoc/>
    public IEnumerator<Rule> GetEnumerator() => _rules.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
