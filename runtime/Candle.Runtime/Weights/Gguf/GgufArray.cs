using System.Collections;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// A GGUF metadata array: an element type and the elements, kept in a typed .NET array (<c>byte[]</c>, <c>float[]</c>,
/// <c>string[]</c>, <c>bool[]</c>, ... or <see cref="GgufArray"/>[] for nested arrays).
/// </summary>
public sealed class GgufArray : IEnumerable<GgufValue>
{
    private readonly Array _items;

    private GgufArray(GgufValueType elementType, Array items)
    {
        ElementType = elementType;
        _items = items;
    }

    /// <summary>The type of every element.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The number of elements.</summary>
    public int Count => _items.Length;

    /// <summary>The elements as the typed array they are stored in (do not modify it).</summary>
    public Array Items => _items;

    /// <summary>Element <paramref name="index"/> as a value.</summary>
    public GgufValue this[int index] => GgufValue.FromObject(ElementType, _items.GetValue(index)!);

    /// <summary>Makes an array of <typeparamref name="T"/>: byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long, double or <see cref="GgufArray"/>.</summary>
    /// <exception cref="ArgumentException">T is not a GGUF element type.</exception>
    public static GgufArray Of<T>(params T[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items is string[] strings && Array.Exists(strings, s => s is null))
        {
            throw new ArgumentException("a GGUF string array cannot hold null", nameof(items));
        }

        if (items is GgufArray[] arrays && Array.Exists(arrays, a => a is null))
        {
            throw new ArgumentException("a GGUF nested array cannot hold null", nameof(items));
        }

        return new GgufArray(GgufValue.TypeOf(typeof(T)), (T[])items.Clone());
    }

    /// <summary>Wraps an array the reader built; it is not copied.</summary>
    internal static GgufArray Wrap(GgufValueType elementType, Array items) => new(elementType, items);

    /// <summary>The elements as a span of <typeparamref name="T"/>, which must be the stored element type.</summary>
    /// <exception cref="InvalidCastException">The elements are of another type.</exception>
    public ReadOnlySpan<T> AsSpan<T>() => _items is T[] typed
        ? typed
        : throw new InvalidCastException($"a GGUF {ElementType} array is not an array of {typeof(T).Name}");

    /// <summary>The elements when they are strings.</summary>
    /// <exception cref="InvalidCastException">The elements are not strings.</exception>
    public IReadOnlyList<string> AsStrings() => _items as string[] ?? throw new InvalidCastException($"a GGUF {ElementType} array is not a string array");

    /// <inheritdoc/>
    public IEnumerator<GgufValue> GetEnumerator()
    {
        for (int i = 0; i < _items.Length; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public override string ToString() => $"[{ElementType} × {Count}]";
}
