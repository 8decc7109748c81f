using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>One evaluation of a node: the node, its input values, its concrete output shape and the symbol bindings.</summary>
internal sealed class OpCall
{
    public OpCall(Node node, IReadOnlyList<HostTensor> inputs, int[] outShape, IReadOnlyDictionary<string, long> bindings)
    {
        Node = node;
        Inputs = inputs;
        OutShape = outShape;
        Bindings = bindings;
    }

    /// <summary>The node evaluated.</summary>
    public Node Node { get; }

    /// <summary>The values of the node's inputs, in order.</summary>
    public IReadOnlyList<HostTensor> Inputs { get; }

    /// <summary>The node's shape with symbols bound.</summary>
    public int[] OutShape { get; }

    /// <summary>Values of the graph's symbolic dimensions.</summary>
    public IReadOnlyDictionary<string, long> Bindings { get; }

    /// <summary>The op.</summary>
    public Op Op => Node.Op;

    /// <summary>The result dtype.</summary>
    public DType DType => Node.DType;

    /// <summary>Number of result elements.</summary>
    public int OutCount => Layout.Numel(OutShape);

    /// <summary>Input <paramref name="i"/>.</summary>
    public HostTensor this[int i] => Inputs[i];

    /// <summary>The node's attributes.</summary>
    public T Attr<T>()
        where T : OpAttrs => Node.Attr<T>();

    /// <summary>Input <paramref name="i"/>'s shape as an array.</summary>
    public int[] Shape(int i) => Inputs[i].ShapeArray();

    /// <summary>"op(f32[2, 3], i64[4])": the op with the concrete types of its inputs, for error messages.</summary>
    public string Describe() => $"{Op.Name()}({string.Join(", ", Inputs.Select(t => $"{t.DType.TorchName()}[{string.Join(", ", t.Shape)}]"))})";

    /// <summary>The result tensor from doubles (rounded once to the node's dtype).</summary>
    public HostTensor Result(double[] values) => TensorData.FromDoubles(DType, OutShape, values);

    /// <summary>The result tensor from longs (wrapped to the node's dtype).</summary>
    public HostTensor Result(long[] values) => TensorData.FromLongs(DType, OutShape, values);

    /// <summary>An out-of-range index error naming the op, the index value and the dimension size (PyTorch's IndexError).</summary>
    public ArgumentOutOfRangeException IndexError(long index, int axis, int size) =>
        new("index", index, $"{Describe()}: index {index} is out of range for dimension {axis} of size {size}");
}
