namespace Candle.Onnx;

/// <summary>A graph input or output as the model declares it: name, element type and dims (numbers or params).</summary>
/// <param name="Name">The value's name.</param>
/// <param name="ElementType">ONNX's element type name (FLOAT, INT64, ...), or "?" when undeclared.</param>
/// <param name="Dims">Each dim as a number or a dimension param; null when the shape is undeclared.</param>
public sealed record OnnxTensorInfo(string Name, string ElementType, IReadOnlyList<string>? Dims)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {ElementType}{(Dims is null ? "" : "[" + string.Join(", ", Dims) + "]")}";
}
