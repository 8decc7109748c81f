using System.Collections;
using System.Collections.Immutable;

namespace Candle.Compiler.Ir;

/// <summary>An immutable tensor shape whose dimensions may be symbolic.</summary>
public sealed class Shape : IReadOnlyList<Dim>, IEquatable<Shape>
{
    private readonly ImmutableArray<Dim> _dims;

    /// <summary>Creates a shape from dims.</summary>
    public Shape(IEnumerable<Dim> dims) => _dims = [.. dims];

    /// <summary>Creates a shape from dims.</summary>
    public Shape(params Dim[] dims) => _dims = [.. dims];

    /// <summary>The scalar shape <c>[]</c>.</summary>
    public static Shape Scalar { get; } = new();

    /// <summary>A constant shape.</summary>
    public static Shape Of(params long[] dims) => new(dims.Select(Dim.Of));

    /// <summary>A constant shape.</summary>
    public static Shape Of(IEnumerable<int> dims) => new(dims.Select(d => Dim.Of(d)));

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims.Length;

    /// <inheritdoc/>
    public int Count => _dims.Length;

    /// <inheritdoc/>
    public Dim this[int index] => _dims[index];

    /// <summary>The dims.</summary>
    public ImmutableArray<Dim> Dims => _dims;

    /// <summary>True when no dimension is symbolic.</summary>
    public bool IsStatic => _dims.All(d => d.IsConstant);

    /// <summary>The product of the dimensions.</summary>
    public Dim Numel => _dims.Aggregate(Dim.One, (a, d) => a * d);

    /// <summary>Normalizes a possibly negative axis (PyTorch style).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The axis is out of range.</exception>
    public int Axis(int axis, string op = "op")
    {
        int r = axis < 0 ? axis + Rank : axis;
        if (r < 0 || r >= Math.Max(Rank, 1) || (Rank == 0 && r != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"{op}: axis {axis} is out of range for shape {this}");
        }

        return r;
    }

    /// <summary>Concrete dimensions for the given symbol bindings.</summary>
    public int[] Evaluate(IReadOnlyDictionary<string, long> bindings)
    {
        var r = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            r[i] = checked((int)_dims[i].Evaluate(bindings));
        }

        return r;
    }

    /// <summary>Concrete dimensions of a static shape.</summary>
    public int[] ToInts() => [.. _dims.Select(d => checked((int)d.Value))];

    /// <summary>A new shape with one dim replaced.</summary>
    public Shape With(int axis, Dim dim) => new(_dims.SetItem(axis, dim));

    /// <summary>The symbols mentioned by any dim.</summary>
    public IEnumerable<string> Symbols => _dims.SelectMany(d => d.Symbols).Distinct();

    /// <inheritdoc/>
    public IEnumerator<Dim> GetEnumerator() => ((IEnumerable<Dim>)_dims).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(Shape? other) => other is not null && _dims.SequenceEqual(other._dims);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in _dims) h.Add(d);
        return h.ToHashCode();
    }

    /// <inheritdoc/>
    public override string ToString() => "[" + string.Join(", ", _dims) + "]";
}
