namespace Candle.Torch;

/// <summary>The kinds of <see cref="TensorIndex"/> entries.</summary>
public enum TensorIndexKind
{
    /// <summary>A full or strided slice; keeps the dim.</summary>
    Slice,
    /// <summary>One integer index; removes the dim.</summary>
    Select,
    /// <summary>Python's <c>...</c>.</summary>
    Ellipsis,
    /// <summary>Python's <c>None</c>: a new size-1 dim.</summary>
    NewAxis,
    /// <summary>An index tensor (index_select along the dim).</summary>
    Tensor,
}
