namespace Candle.Torch;

/// <summary>
/// One entry of a <c>tensor[...]</c> index: an integer (selects and removes the dim; negative counts from the end),
/// a <see cref="System.Range"/> or <see cref="Slice"/> (keeps the dim), <see cref="Ellipsis"/>, <see cref="None"/>
/// (a new size-1 dim) or an int64/int32 index tensor (index_select along the dim).
/// </summary>
public readonly struct TensorIndex : IEquatable<TensorIndex>
{
    private TensorIndex(TensorIndexKind kind, long index = 0, long? start = null, long? end = null, int step = 1, Tensor? tensor = null)
    {
        Kind = kind;
        Index = index;
        Start = start;
        End = end;
        Step = step;
        Tensor = tensor;
    }

    /// <summary>What this entry does.</summary>
    public TensorIndexKind Kind { get; }

    /// <summary>The selected index (for <see cref="TensorIndexKind.Select"/>).</summary>
    public long Index { get; }

    /// <summary>The slice start, null for the beginning; <see cref="long.MaxValue"/> means the end of the dim.</summary>
    public long? Start { get; }

    /// <summary>The slice end (exclusive), null for the end of the dim.</summary>
    public long? End { get; }

    /// <summary>The slice step (≥ 1).</summary>
    public int Step { get; }

    /// <summary>The index tensor (for <see cref="TensorIndexKind.Tensor"/>).</summary>
    public Tensor? Tensor { get; }

    /// <summary>Python's <c>...</c>: as many full slices as needed.</summary>
    public static TensorIndex Ellipsis { get; } = new(TensorIndexKind.Ellipsis);

    /// <summary>Python's <c>None</c>: inserts a size-1 dim.</summary>
    public static TensorIndex None { get; } = new(TensorIndexKind.NewAxis);

    /// <summary>Python's <c>:</c>.</summary>
    public static TensorIndex All { get; } = new(TensorIndexKind.Slice);

    /// <summary>Python's <c>start:end:step</c>; null bounds are open, negative bounds count from the end.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The step is not positive.</exception>
    public static TensorIndex Slice(long? start = null, long? end = null, int step = 1)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "slice step must be ≥ 1");
        return new(TensorIndexKind.Slice, start: start, end: end, step: step);
    }

    /// <summary>Selects one index.</summary>
    public static TensorIndex Select(long index) => new(TensorIndexKind.Select, index);

    /// <summary>Index_select by an int64 or int32 tensor.</summary>
    public static TensorIndex FromTensor(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return new(TensorIndexKind.Tensor, tensor: index);
    }

    /// <summary>Selects one index.</summary>
    public static implicit operator TensorIndex(int index) => Select(index);

    /// <summary>Selects one index.</summary>
    public static implicit operator TensorIndex(long index) => Select(index);

    /// <summary>Selects one index; <c>^1</c> is the last.</summary>
    public static implicit operator TensorIndex(Index index) => Select(index.IsFromEnd ? -(long)index.Value : index.Value);

    /// <summary>A slice: <c>1..3</c>, <c>..</c>, <c>^2..</c>.</summary>
    public static implicit operator TensorIndex(Range range)
    {
        long? start = range.Start.IsFromEnd ? (range.Start.Value == 0 ? long.MaxValue : -(long)range.Start.Value) : range.Start.Value == 0 ? null : range.Start.Value;
        long? end = range.End.IsFromEnd ? (range.End.Value == 0 ? null : -(long)range.End.Value) : range.End.Value;
        return new(TensorIndexKind.Slice, start: start, end: end);
    }

    /// <summary>Index_select by an int64 or int32 tensor.</summary>
    public static implicit operator TensorIndex(Tensor index) => FromTensor(index);

    /// <summary>Creates a select entry (named alternative of the implicit conversion).</summary>
    public static TensorIndex FromInt32(int index) => Select(index);

    /// <summary>Creates a slice entry (named alternative of the implicit conversion).</summary>
    public static TensorIndex FromRange(Range range) => range;

    /// <inheritdoc/>
    public bool Equals(TensorIndex other) =>
        Kind == other.Kind && Index == other.Index && Start == other.Start && End == other.End && Step == other.Step && ReferenceEquals(Tensor, other.Tensor);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TensorIndex t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Index, Start, End, Step, Tensor);

    /// <summary>Equality.</summary>
    public static bool operator ==(TensorIndex a, TensorIndex b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(TensorIndex a, TensorIndex b) => !a.Equals(b);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        TensorIndexKind.Select => Index.ToString(System.Globalization.CultureInfo.InvariantCulture),
        TensorIndexKind.Slice => $"{Start}:{End}" + (Step != 1 ? $":{Step}" : ""),
        TensorIndexKind.Ellipsis => "...",
        TensorIndexKind.NewAxis => "None",
        _ => $"tensor{Tensor?.TypeString}",
    };
}
