using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>How a model is imported.</summary>
public sealed record OnnxImportOptions
{
    /// <summary>
    /// Graph inputs whose values are fixed at import: each becomes a constant (named as the input) instead of a graph
    /// input, so shape computations that read it (a Reshape's shape, Slice's starts, reduction axes given as inputs)
    /// fold. The imported graph no longer takes these inputs.
    /// </summary>
    public IReadOnlyDictionary<string, HostTensor>? ConstantInputs { get; init; }

    /// <summary>
    /// The inputs a caller may fix with <see cref="ConstantInputs"/> without copying much: int32 and int64 tensors of rank
    /// 0 or 1 with at most 64 elements (shapes, axes, starts and ends as graph inputs) and tensors of one element of any type
    /// (a Range's bounds, a Pad's value, a OneHot's depth).
    /// </summary>
    public static bool IsShapeLike(HostTensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t.ElementCount == 1 && t.Rank <= 1 || t.DType is Runtime.DType.I64 or Runtime.DType.I32 && t.Rank <= 1 && t.ElementCount <= 64;
    }
}
