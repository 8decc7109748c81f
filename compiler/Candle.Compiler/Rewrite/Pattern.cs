using System.Collections.Immutable;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Rewrite;

/// <summary>
/// A tree pattern over IR nodes: an op (or op group, or anything), an optional dtype and predicate, a capture
/// name and patterns for the inputs. Commutative ops match their two operands in either order. A capture
/// name used twice must bind the same node (so <c>sub(x, x)</c> matches only equal operands).
/// </summary>
public sealed class Pattern
{
    private Pattern(Op? op, Func<Op, bool>? group, string description, IReadOnlyList<Pattern>? inputs)
    {
        RootOp = op;
        Group = group;
        Description = description;
        Inputs = inputs;
    }

    /// <summary>The exact op matched, or null for a group or "any".</summary>
    public Op? RootOp { get; }

    /// <summary>The op group matched, or null.</summary>
    public Func<Op, bool>? Group { get; private init; }

    /// <summary>Text used in messages and <see cref="ToString"/>.</summary>
    public string Description { get; private init; }

    /// <summary>Patterns for the inputs, or null to accept any inputs.</summary>
    public IReadOnlyList<Pattern>? Inputs { get; private init; }

    /// <summary>The capture name, or null.</summary>
    public string? Name { get; private init; }

    /// <summary>Required dtype, or null.</summary>
    public DType? RequiredDType { get; private init; }

    /// <summary>Extra condition on the node, or null; checked after the input patterns matched.</summary>
    public Func<Node, bool>? Predicate { get; private init; }

    /// <summary>Whether the operands of a two-input node may match in either order (on for commutative ops).</summary>
    public bool Commutative { get; private init; }

    /// <summary>Matches any node, capturing it as <paramref name="name"/> when given.</summary>
    public static Pattern Any(string? name = null) => new(null, null, "_", null) { Name = name };

    /// <summary>Matches a node of <paramref name="op"/>; with input patterns, also its inputs (arity must match).</summary>
    public static Pattern Of(Op op, params Pattern[] inputs) =>
        new(op, null, op.Name(), inputs.Length == 0 ? null : inputs) { Commutative = op.IsCommutative() };

    /// <summary>Matches a node whose op is in a group (e.g. <c>OpInfo.IsElementwise</c>).</summary>
    public static Pattern OfGroup(Func<Op, bool> group, string description, params Pattern[] inputs) =>
        new(null, group, description, inputs.Length == 0 ? null : inputs);

    /// <summary>A <see cref="Ir.Op.Full"/> node holding exactly <paramref name="value"/>.</summary>
    public static Pattern Full(double value, string? name = null) =>
        Of(Ir.Op.Full).Where(n => n.Attr<FullAttrs>().Value.Equals(value)).As(name).Described($"full({value.ToString(System.Globalization.CultureInfo.InvariantCulture)})");

    /// <summary>A <see cref="Ir.Op.Full"/> node with any value.</summary>
    public static Pattern AnyFull(string? name = null) => Of(Ir.Op.Full).As(name);

    /// <summary>This pattern with another description (used in messages).</summary>
    public Pattern Described(string description) => new(RootOp, Group, description, Inputs)
    {
        Name = Name,
        RequiredDType = RequiredDType,
        Predicate = Predicate,
        Commutative = Commutative,
    };

    /// <summary>This pattern capturing its node as <paramref name="name"/>.</summary>
    public Pattern As(string? name) => Copy(name: name);

    /// <summary>This pattern requiring <paramref name="dtype"/>.</summary>
    public Pattern WithDType(DType dtype) => Copy(dtype: dtype);

    /// <summary>This pattern with an extra condition (combined with any existing one).</summary>
    public Pattern Where(Func<Node, bool> predicate)
    {
        var old = Predicate;
        return Copy(predicate: old is null ? predicate : n => old(n) && predicate(n));
    }

    /// <summary>This pattern with commutative operand matching switched on or off.</summary>
    public Pattern WithCommutative(bool commutative) => Copy(commutative: commutative);

    /// <summary>Tries to match <paramref name="node"/>; on success <paramref name="match"/> holds the captures.</summary>
    public bool TryMatch(Node node, out Match match)
    {
        ArgumentNullException.ThrowIfNull(node);
        foreach (var captures in Matches(node, Empty))
        {
            match = new Match(node, captures);
            return true;
        }

        match = null!;
        return false;
    }

    /// <summary>Every way <paramref name="node"/> matches (commutative operands give alternatives), first the in-order one.</summary>
    public IEnumerable<Match> MatchAll(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return Matches(node, Empty).Select(c => new Match(node, c));
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        string head = Name is null ? Description : $"{Description}@{Name}";
        return Inputs is null ? head : $"{head}({string.Join(", ", Inputs)})";
    }

    private static readonly ImmutableDictionary<string, Node> Empty = ImmutableDictionary.Create<string, Node>(StringComparer.Ordinal);

    private IEnumerable<ImmutableDictionary<string, Node>> Matches(Node node, ImmutableDictionary<string, Node> captures)
    {
        if (RootOp is { } op && node.Op != op) yield break;
        if (Group is not null && !Group(node.Op)) yield break;
        if (RequiredDType is { } dt && node.DType != dt) yield break;
        if (Name is not null)
        {
            if (captures.TryGetValue(Name, out var bound))
            {
                if (!ReferenceEquals(bound, node)) yield break;
            }
            else
            {
                captures = captures.Add(Name, node);
            }
        }

        if (Inputs is null)
        {
            if (Predicate is null || Predicate(node)) yield return captures;
            yield break;
        }

        // The predicate runs once the input patterns matched, so it may rely on the operands' structure.
        if (node.Inputs.Length != Inputs.Count) yield break;
        bool? accepted = null;
        foreach (var c in MatchSequence(node, 0, swapped: false, captures))
        {
            accepted ??= Predicate is null || Predicate(node);
            if (!accepted.Value) yield break;
            yield return c;
        }

        if (Commutative && Inputs.Count == 2 && !ReferenceEquals(node.Inputs[0], node.Inputs[1]))
        {
            foreach (var c in MatchSequence(node, 0, swapped: true, captures))
            {
                accepted ??= Predicate is null || Predicate(node);
                if (!accepted.Value) yield break;
                yield return c;
            }
        }
    }

    private IEnumerable<ImmutableDictionary<string, Node>> MatchSequence(Node node, int i, bool swapped, ImmutableDictionary<string, Node> captures)
    {
        if (i == Inputs!.Count)
        {
            yield return captures;
            yield break;
        }

        var input = node.Inputs[swapped ? Inputs.Count - 1 - i : i];
        foreach (var c in Inputs[i].Matches(input, captures))
        {
            foreach (var rest in MatchSequence(node, i + 1, swapped, c)) yield return rest;
        }
    }

    private Pattern Copy(string? name = null, DType? dtype = null, Func<Node, bool>? predicate = null, bool? commutative = null) =>
        new(RootOp, Group, Description, Inputs)
        {
            Name = name ?? Name,
            RequiredDType = dtype ?? RequiredDType,
            Predicate = predicate ?? Predicate,
            Commutative = commutative ?? Commutative,
        };
}
