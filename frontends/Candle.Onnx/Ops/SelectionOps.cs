using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Ops composed over a short constant axis: CumProd (a running product of slices, exclusive and reverse like CumSum)
/// and TopK (k rounds of arg-max or arg-min, each taking the first index among equal values and masking the chosen
/// element, which is ONNX's order: larger values first, lower index first among equals).
/// </summary>
internal static class SelectionOps
{
    private const long MaxSteps = 256;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["CumProd"] = CumProd;
        t["TopK"] = TopK;
    }

    private static OnnxValue[] CumProd(NodeImport n)
    {
        var x = n.Input(0);
        long[] axisValue = n.ConstInts(1, "axis");
        if (axisValue.Length != 1) throw n.Import("axis must have one value");
        int axis = n.Axis(axisValue[0], x.Shape.Rank);
        if (x.Shape[axis].TryGetConstant() is not long length || length > MaxSteps) throw n.Import($"needs a constant axis of at most {MaxSteps} elements, got {x.Shape[axis]}");
        bool reverse = n.Attrs.Int("reverse", 0) != 0, exclusive = n.Attrs.Int("exclusive", 0) != 0;
        if (length == 0) return NodeImport.One(x);
        n.Expand(2 * length, 0, $"unrolling a product over {length} elements");
        var src = reverse ? Flip(x, axis) : x;
        var one = Full(1, x.DType, new Shape(x.Shape.Select((d, i) => i == axis ? Dim.One : d)));
        var parts = new List<Node>();
        Node running = one;
        for (long i = 0; i < length; i++)
        {
            var slice = Narrow(src, axis, Dim.Of(i), Dim.One);
            if (exclusive) parts.Add(running);
            running = i == 0 ? slice : Binary(Op.Mul, running, slice);
            if (!exclusive) parts.Add(running);
        }

        var y = Cast(Concat(parts, axis), x.DType);
        return NodeImport.One(reverse ? Flip(y, axis) : y);
    }

    private static OnnxValue[] TopK(NodeImport n)
    {
        var x = n.Input(0);
        int axis = n.Axis(n.Attrs.Int("axis", -1), x.Shape.Rank);
        long k = n.Opset < 10 ? n.Attrs.Int("k") : n.ConstInts(1, "K") is [var kv] ? kv : throw n.Import("K must have one value");
        bool largest = n.Opset < 11 || n.Attrs.Int("largest", 1) != 0;
        if (x.Shape[axis].TryGetConstant() is not long length) throw n.Import($"needs a constant axis, got {x.Shape[axis]}");
        if (k < 0 || k > length) throw n.Import($"K={k} is out of range for an axis of {length}");
        if (k > MaxSteps) throw n.Import($"K={k} is larger than {MaxSteps}");
        if (x.DType == DType.Bool) throw n.Import("bool input is not supported");
        n.Expand(6 * k, 0, $"unrolling K={k} rounds of arg-max");

        var positions = Reshape(Arange(x.Shape[axis]), new Shape(x.Shape.Select((d, i) => i == axis ? d : Dim.One)));
        var chosenMask = Full(0, DType.Bool, x.Shape);
        var values = new List<Node>();
        var indices = new List<Node>();
        for (long i = 0; i < k; i++)
        {
            var arg = ArgReduce(largest ? Op.ArgMax : Op.ArgMin, ArgInput(x, chosenMask, largest), axis, keepDim: true);
            indices.Add(arg);
            values.Add(Gather(x, axis, arg));
            chosenMask = Binary(Op.LogicalOr, chosenMask, Binary(Op.Eq, positions, arg));
        }

        if (k == 0)
        {
            var empty = new Shape(x.Shape.Select((d, i) => i == axis ? Dim.Zero : d));
            return [new OnnxValue(Full(0, x.DType, empty)), new OnnxValue(Full(0, DType.I64, empty))];
        }

        return [new OnnxValue(Concat(values, axis)), new OnnxValue(Concat(indices, axis))];
    }

    /// <summary>
    /// What arg-max/arg-min runs over: the values in float64 (exact for int32 and for int64 up to 2⁵³) with the taken
    /// positions set to −∞ (+∞ for arg-min).
    /// </summary>
    private static Node ArgInput(Node x, Node chosenMask, bool largest)
    {
        var wide = Cast(x, DType.F64);
        return Where(chosenMask, Scalar(largest ? double.NegativeInfinity : double.PositiveInfinity, DType.F64), wide);
    }
}
