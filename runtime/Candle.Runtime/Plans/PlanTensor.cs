namespace Candle.Runtime.Plans;

/// <summary>A named plan input or output: dtype and (possibly symbolic) shape.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Buffer">The buffer slot holding the tensor (contiguous).</param>
public sealed record PlanTensor(string Name, DType DType, IReadOnlyList<DimExpr> Shape, int Buffer)
{
    /// <summary>The shape as text, such as <c>[batch, seq, 64]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
