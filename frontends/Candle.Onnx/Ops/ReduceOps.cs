using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Reductions: axes are an attribute until the opset where they became an input (ReduceSum 13, the others 18);
/// keepdims defaults to 1; empty axes reduce everything unless noop_with_empty_axes. ArgMax/ArgMin.
/// </summary>
internal static class ReduceOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["ReduceSum"] = n => Reduce(n, 13, x => x, Op.Sum, y => y);
        t["ReduceMean"] = n => Reduce(n, 18, x => x, Op.Mean, y => y);
        t["ReduceMax"] = n => Reduce(n, 18, x => x, Op.Max, y => y);
        t["ReduceMin"] = n => Reduce(n, 18, x => x, Op.Min, y => y);
        t["ReduceProd"] = n => Reduce(n, 18, x => x, Op.Prod, y => y);
        t["ReduceSumSquare"] = n => Reduce(n, 18, x => Binary(Op.Mul, x, x), Op.Sum, y => y);
        t["ReduceL1"] = n => Reduce(n, 18, x => Unary(Op.Abs, x), Op.Sum, y => y);
        t["ReduceL2"] = n => Reduce(n, 18, x => Binary(Op.Mul, x, x), Op.Sum, y => Cast(Unary(Op.Sqrt, y), y.DType));
        t["ReduceLogSum"] = n => Reduce(n, 18, x => x, Op.Sum, y => Unary(Op.Log, y));
        t["ReduceLogSumExp"] = n => Reduce(n, 18, x => Unary(Op.Exp, x), Op.Sum, y => Unary(Op.Log, y));
        t["ArgMax"] = n => Arg(n, Op.ArgMax);
        t["ArgMin"] = n => Arg(n, Op.ArgMin);
    }

    private static OnnxValue[] Reduce(NodeImport n, int axesInputSince, Func<Node, Node> pre, Op op, Func<Node, Node> post)
    {
        var x = n.Input(0);
        long[]? axes = n.Opset >= axesInputSince ? (n.HasInput(1) ? n.ConstInts(1, "axes") : null) : n.Attrs.Ints("axes");
        bool keep = n.Attrs.Int("keepdims", 1) != 0;
        if ((axes is null || axes.Length == 0) && n.Attrs.Int("noop_with_empty_axes", 0) != 0) return NodeImport.One(x);
        int[] norm = axes is null || axes.Length == 0 ? [.. Enumerable.Range(0, x.Shape.Rank)] : [.. axes.Select(a => n.Axis(a, x.Shape.Rank, "axes entry"))];
        if (x.Shape.Rank == 0) return NodeImport.One(post(pre(x)));
        var input = pre(x);
        if (op == Op.Mean && !input.DType.IsFloat()) throw n.Import($"needs a floating-point input, got {input.DType.TorchName()}");
        if (op is Op.Max or Op.Min && norm.Any(a => x.Shape[a].TryGetConstant() == 0))
        {
            // The maximum of an empty set is the lowest value of the type (−∞ for floats), the minimum the highest.
            var dims = new List<Dim>();
            for (int i = 0; i < x.Shape.Rank; i++)
            {
                if (!norm.Contains(i)) dims.Add(x.Shape[i]);
                else if (keep) dims.Add(Dim.One);
            }

            var shape = new Shape(dims);
            return NodeImport.One(Full(op == Op.Max ? Lowest(x.DType) : Highest(x.DType), x.DType, shape));
        }


        var reduced = post(IrBuilder.Reduce(op, input, norm, keep));
        return NodeImport.One(op is Op.Max or Op.Min ? Cast(reduced, x.DType) : reduced);
    }

    private static double Lowest(DType dtype) => dtype switch
    {
        DType.I64 => long.MinValue,
        DType.I32 => int.MinValue,
        DType.I8 => sbyte.MinValue,
        DType.U8 or DType.Bool => 0,
        _ => double.NegativeInfinity,
    };

    private static double Highest(DType dtype) => dtype switch
    {
        DType.I64 => long.MaxValue,
        DType.I32 => int.MaxValue,
        DType.I8 => sbyte.MaxValue,
        DType.U8 => byte.MaxValue,
        DType.Bool => 1,
        _ => double.PositiveInfinity,
    };

    private static OnnxValue[] Arg(NodeImport n, Op op)
    {
        var x = n.Input(0);
        int axis = n.Axis(n.Attrs.Int("axis", 0), x.Shape.Rank);
        bool keep = n.Attrs.Int("keepdims", 1) != 0;
        if (n.Attrs.Int("select_last_index", 0) == 0) return NodeImport.One(Cast(ArgReduce(op, x, axis, keep), DType.I64));

        // The last extremum: the first one of the flipped axis, counted from the end.
        var fromEnd = Cast(ArgReduce(op, Flip(x, axis), axis, keep), DType.I64);
        var last = Cast(x.Shape[axis] - 1 is { } d && d.TryGetConstant() is long c ? Scalar(c, DType.I64) : throw n.Import("select_last_index needs a constant reduced dimension"), DType.I64);
        return NodeImport.One(Binary(Op.Sub, last, fromEnd));
    }
}
