using Candle.Compiler.Ir;

namespace Candle.Onnx;

/// <summary>
/// An ONNX value during import: an IR node, and for small int64 tensors (shapes, axes, indices) the values known at
/// import time, possibly symbolic (a Shape of an input with dimension params), so shape computations fold.
/// </summary>
/// <param name="Node">The node computing the value, or null when it exists only as <paramref name="Known"/> (symbolic).</param>
/// <param name="Known">The known int64 values (1-d, or a scalar when <paramref name="IsScalar"/>), or null.</param>
/// <param name="IsScalar">The known values form a 0-d tensor (exactly one value).</param>
internal sealed record OnnxValue(Node? Node, Dim[]? Known = null, bool IsScalar = false)
{
    /// <summary>
    /// The ONNX element type code when the node holds a type the IR carries in a wider dtype (int16, uint16, uint32,
    /// uint64, float8, int4 ...: <see cref="OnnxDataTypes.Carrier"/>), 0 when the node's dtype is the value's own.
    /// </summary>
    public int ElemType { get; init; }

    /// <summary>The elements when the value is a sequence (known at import), else null.</summary>
    public IReadOnlyList<OnnxValue>? Items { get; init; }

    /// <summary>True for an empty optional.</summary>
    public bool IsNone { get; init; }

    /// <summary>What the value is, for messages about values that are not tensors.</summary>
    public string Kind => Items is not null ? $"a sequence of {Items.Count}" : IsNone ? "an empty optional" : "a tensor";

    /// <summary>A value known as a vector (or scalar) of dims; it gets a node when all are constant.</summary>
    public static OnnxValue FromDims(IReadOnlyList<Dim> dims, bool scalar = false)
    {
        Node? node = null;
        if (dims.All(d => d.IsConstant))
        {
            long[] values = [.. dims.Select(d => d.Value)];
            node = IrBuilder.Constant(Candle.Runtime.Tensors.HostTensor.FromArray(values, scalar ? [] : [values.Length]));
        }

        return new OnnxValue(node, [.. dims], scalar);
    }
}
