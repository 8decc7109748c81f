using System.Collections;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace Candle.Compiler.Ir;

/// <summary>An immutable list of ints with value equality, for op attributes.</summary>
[CollectionBuilder(typeof(IntList), nameof(Create))]
public readonly struct IntList : IEquatable<IntList>, IReadOnlyList<int>
{
    private readonly ImmutableArray<int> _items;

    /// <summary>Creates a list.</summary>
    public IntList(IEnumerable<int> items) => _items = [.. items];

    /// <summary>Creates a list (collection-expression builder).</summary>
    public static IntList Create(ReadOnlySpan<int> items) => new(items.ToArray());

    /// <summary>Creates a list.</summary>
    public static IntList Of(params int[] items) => new(items);

    /// <summary>The items (empty for a default value).</summary>
    public ImmutableArray<int> Items => _items.IsDefault ? [] : _items;

    /// <inheritdoc/>
    public int Count => Items.Length;

    /// <inheritdoc/>
    public int this[int index] => Items[index];

    /// <summary>Converts an array.</summary>
    public static implicit operator IntList(int[] items) => new(items);

    /// <inheritdoc/>
    public bool Equals(IntList other) => Items.SequenceEqual(other.Items);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is IntList o && Equals(o);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int i in Items) h.Add(i);
        return h.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(IntList a, IntList b) => a.Equals(b);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(IntList a, IntList b) => !a.Equals(b);

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public override string ToString() => "[" + string.Join(", ", Items) + "]";
}
