using System.Collections.Immutable;
using Candle.Runtime;

namespace Candle.Compiler.Ir;

/// <summary>
/// One immutable IR node. Nodes are hash-consed: creating a node equal to a live one (same op, attributes
/// and input objects) returns that object, so equal subgraphs are one object and CSE is free.
/// Dtype and shape are inferred (and checked) from the op, inputs and attributes.
/// </summary>
public sealed class Node
{
    private static long s_nextId;

    internal Node(Op op, DType dtype, Shape shape, ImmutableArray<Node> inputs, OpAttrs? attrs)
    {
        Op = op;
        DType = dtype;
        Shape = shape;
        Inputs = inputs;
        Attrs = attrs;
        Id = Interlocked.Increment(ref s_nextId);
    }

    /// <summary>The operation.</summary>
    public Op Op { get; }

    /// <summary>The element type of the result.</summary>
    public DType DType { get; }

    /// <summary>The shape of the result.</summary>
    public Shape Shape { get; }

    /// <summary>The operands.</summary>
    public ImmutableArray<Node> Inputs { get; }

    /// <summary>The attributes, or null for ops that have none.</summary>
    public OpAttrs? Attrs { get; }

    /// <summary>A process-unique id, increasing in creation order (so inputs have smaller ids).</summary>
    public long Id { get; }

    /// <summary>"f32[seq, 256]".</summary>
    public string TypeString => $"{DType.TorchName()}{Shape}";

    /// <summary>The attributes cast to <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidOperationException">The node has other attributes.</exception>
    public T Attr<T>()
        where T : OpAttrs =>
        Attrs as T ?? throw new InvalidOperationException($"{Op.Name()} node has no {typeof(T).Name}");

    /// <summary>Creates (or finds) a node, inferring and checking its dtype and shape.</summary>
    /// <exception cref="IrException">The inputs or attributes are invalid for the op.</exception>
    public static Node Create(Op op, ImmutableArray<Node> inputs, OpAttrs? attrs = null)
    {
        var (dtype, shape) = ShapeInference.Infer(op, inputs, attrs);
        return NodeInterner.Intern(op, dtype, shape, inputs, attrs);
    }

    /// <summary>Creates (or finds) a node.</summary>
    public static Node Create(Op op, OpAttrs? attrs, params Node[] inputs) => Create(op, [.. inputs], attrs);

    /// <summary>This node with other inputs; returns <c>this</c> when nothing changes.</summary>
    public Node WithInputs(ImmutableArray<Node> inputs)
    {
        if (inputs.Length == Inputs.Length)
        {
            bool same = true;
            for (int i = 0; i < inputs.Length && same; i++)
            {
                same = ReferenceEquals(inputs[i], Inputs[i]);
            }

            if (same)
            {
                return this;
            }
        }

        return Create(Op, inputs, Attrs);
    }

    /// <inheritdoc/>
    public override string ToString() => $"%{Id} = {Op.Name()} : {TypeString}";
}
