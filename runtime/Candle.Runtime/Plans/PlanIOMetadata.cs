using Candle.Runtime.Tensors;

namespace Candle.Runtime.Plans;

/// <summary>
/// A plan input or output as a caller sees it, like ONNX Runtime's <c>NodeMetadata</c>: its name, element type and
/// shape, where a dimension is a constant or a symbolic expression of the named sizes (<c>batch</c>,
/// <c>seq</c>, <c>seq + 1</c>) resolved from the inputs at each call.
/// </summary>
/// <param name="Name">The name to pass or read it by.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions.</param>
public sealed record PlanIOMetadata(string Name, DType DType, IReadOnlyList<DimExpr> Shape)
{
    /// <summary>The dimensions as numbers, with -1 for symbolic ones (ONNX Runtime's convention).</summary>
    public IReadOnlyList<long> Dimensions => [.. Shape.Select(d => d.IsConstant ? long.Parse(d.Text, System.Globalization.CultureInfo.InvariantCulture) : -1L)];

    /// <summary>The dimensions as text: a number or the symbolic expression.</summary>
    public IReadOnlyList<string> SymbolicDimensions => [.. Shape.Select(d => d.Text)];

    /// <summary>True when some dimension is symbolic.</summary>
    public bool IsDynamic => Shape.Any(d => !d.IsConstant);

    /// <summary>The metadata in the form <c>name: f32[batch, 64]</c>.</summary>
    public override string ToString() => $"{Name}: {DType.TorchName()}[{string.Join(", ", SymbolicDimensions)}]";
}
