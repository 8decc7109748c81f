using Candle.Runtime;

namespace Candle.Compiler.Ir;

public static partial class IrBuilder
{
    /// <summary>Reduces over <paramref name="axes"/> (negative allowed; empty means all axes).</summary>
    public static Node Reduce(Op op, Node x, IEnumerable<int>? axes = null, bool keepDim = false)
    {
        if (!op.IsReduce()) throw IrException.For(op, [x], "is not a reduction");
        var list = axes?.ToList() ?? [];
        int[] norm = list.Count == 0
            ? [.. Enumerable.Range(0, x.Shape.Rank)]
            : [.. list.Select(a => x.Shape.Axis(a, op.Name())).Distinct().Order()];
        if (op == Op.Mean && !x.DType.IsFloat()) throw IrException.For(op, [x], $"needs a floating-point input, got {x.DType.TorchName()}");
        if (x.DType == DType.Bool && op is Op.Max or Op.Min) x = Cast(x, DType.U8);
        return Node.Create(op, new ReduceAttrs(norm, keepDim), x);
    }

    /// <summary>argmax/argmin along <paramref name="axis"/>, or over the flattened tensor when null.</summary>
    public static Node ArgReduce(Op op, Node x, int? axis, bool keepDim = false)
    {
        if (op is not (Op.ArgMax or Op.ArgMin)) throw IrException.For(op, [x], "is not argmax/argmin");
        if (axis is null)
        {
            return Node.Create(op, new ReduceAttrs([0], false), Reshape(x, new Shape(x.Shape.Numel)));
        }

        return Node.Create(op, new ReduceAttrs([x.Shape.Axis(axis.Value, op.Name())], keepDim), x);
    }

    /// <summary>Inclusive prefix sum along <paramref name="axis"/>.</summary>
    public static Node CumSum(Node x, int axis) =>
        Node.Create(Op.CumSum, new AxisAttrs(x.Shape.Axis(axis, "cumsum")), x);

    /// <summary>Softmax along <paramref name="axis"/> (integers are promoted to float32).</summary>
    public static Node Softmax(Node x, int axis) =>
        Node.Create(Op.Softmax, new AxisAttrs(x.Shape.Axis(axis, "softmax")), x.DType.IsFloat() ? x : Cast(x, DType.F32));

    /// <summary>Log-softmax along <paramref name="axis"/>.</summary>
    public static Node LogSoftmax(Node x, int axis) =>
        Node.Create(Op.LogSoftmax, new AxisAttrs(x.Shape.Axis(axis, "log_softmax")), x.DType.IsFloat() ? x : Cast(x, DType.F32));
}
