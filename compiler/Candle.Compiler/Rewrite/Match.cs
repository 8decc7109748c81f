using Candle.Compiler.Ir;

namespace Candle.Compiler.Rewrite;

/// <summary>The result of matching a <see cref="Pattern"/>: the matched root and the named captures.</summary>
public sealed class Match
{
    private readonly IReadOnlyDictionary<string, Node> _captures;

    internal Match(Node root, IReadOnlyDictionary<string, Node> captures)
    {
        Root = root;
        _captures = captures;
    }

    /// <summary>The node the pattern matched.</summary>
    public Node Root { get; }

    /// <summary>The names captured.</summary>
    public IEnumerable<string> Names => _captures.Keys;

    /// <summary>The node captured as <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The pattern has no such capture.</exception>
    public Node this[string name] =>
        _captures.TryGetValue(name, out var n) ? n : throw new KeyNotFoundException($"pattern captured no node named '{name}' (captures: {string.Join(", ", _captures.Keys)})");

    /// <summary>The node captured as <paramref name="name"/>, if any.</summary>
    public bool TryGet(string name, out Node node) => _captures.TryGetValue(name, out node!);
}
