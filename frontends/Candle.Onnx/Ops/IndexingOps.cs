using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Indexing and rearranging ops composed from IR ops: GatherElements (the IR's gather), CumSum (exclusive and reverse
/// through flips and a difference), DepthToSpace/SpaceToDepth (reshape and permute), Trilu, OneHot, EyeLike and Hardmax
/// (comparisons against an index range), ReverseSequence (a gather along time of len − 1 − t within each length).
/// </summary>
internal static class IndexingOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["ReverseSequence"] = ReverseSequence;
        t["GatherElements"] = n =>
        {
            var x = n.Input(0);
            int axis = n.Axis(n.Attrs.Int("axis", 0), x.Shape.Rank);
            var index = Cast(n.Input(1), DType.I64);
            if (index.Shape.Rank != x.Shape.Rank) throw n.Import($"indices {index.Shape} must have the rank of data {x.Shape}");
            var size = x.Shape[axis].TryGetConstant() is long c ? Scalar(c, DType.I64) : throw n.Import("a symbolic gathered dimension is not supported");
            index = Where(Binary(Op.Lt, index, Scalar(0, DType.I64)), Binary(Op.Add, index, size), index);
            return NodeImport.One(Gather(x, axis, index));
        };
        t["CumSum"] = n =>
        {
            var x = n.Input(0);
            long[] axisValue = n.ConstInts(1, "axis");
            if (axisValue.Length != 1) throw n.Import("axis must have one value");
            int axis = n.Axis(axisValue[0], x.Shape.Rank);
            bool reverse = n.Attrs.Int("reverse", 0) != 0, exclusive = n.Attrs.Int("exclusive", 0) != 0;
            var src = reverse ? Flip(x, axis) : x;
            var sum = CumSum(src, axis);
            if (exclusive) sum = Binary(Op.Sub, sum, src);
            return NodeImport.One(Cast(reverse ? Flip(sum, axis) : sum, x.DType));
        };
        t["DepthToSpace"] = DepthToSpace;
        t["SpaceToDepth"] = SpaceToDepth;
        t["Trilu"] = Trilu;
        t["OneHot"] = OneHot;
        t["EyeLike"] = n =>
        {
            var x = n.Input(0);
            if (x.Shape.Rank != 2) throw n.Import($"needs a 2-d input, got {x.Shape}");
            var dtype = x.DType;
            if (n.Attrs.Has("dtype"))
            {
                long code = n.Attrs.Int("dtype");
                dtype = OnnxDataTypes.ToDType((int)Math.Clamp(code, 0, 1000)) ?? throw n.Import($"dtype {OnnxDataTypes.Name((int)Math.Clamp(code, 0, 1000))} is not supported");
            }

            long k = n.Attrs.Int("k", 0);
            var rows = Reshape(Arange(x.Shape[0], DType.I64, k), new Shape(x.Shape[0], Dim.One));
            var cols = Reshape(Arange(x.Shape[1]), new Shape(Dim.One, x.Shape[1]));
            return NodeImport.One(Cast(Binary(Op.Eq, rows, cols), dtype));
        };
        t["Hardmax"] = n =>
        {
            var x = n.Input(0);
            int axis = n.Axis(n.Attrs.Int("axis", n.Opset >= 13 ? -1 : 1), x.Shape.Rank);
            if (n.Opset < 13 && axis != x.Shape.Rank - 1) throw n.Import("Hardmax before opset 13 is supported only over the last axis");
            var arg = ArgReduce(Op.ArgMax, x, axis, keepDim: true);
            var positions = Reshape(Arange(x.Shape[axis]), new Shape(x.Shape.Select((d, i) => i == axis ? d : Dim.One)));
            return NodeImport.One(Cast(Binary(Op.Eq, positions, arg), x.DType));
        };
    }

    private static (Dim N, Dim C, long H, long W) Nchw(NodeImport n, Node x)
    {
        if (x.Shape.Rank != 4) throw n.Import($"needs a 4-d input, got {x.Shape}");
        long h = x.Shape[2].TryGetConstant() ?? -1, w = x.Shape[3].TryGetConstant() ?? -1;
        if (h < 0 || w < 0) throw n.Import($"needs constant spatial dims, got {x.Shape}");
        return (x.Shape[0], x.Shape[1], h, w);
    }

    private static OnnxValue[] DepthToSpace(NodeImport n)
    {
        var x = n.Input(0);
        var (b, c, h, w) = Nchw(n, x);
        long bs = n.Attrs.Int("blocksize");
        if (bs < 1 || bs > 1 << 16 || !c.IsDivisibleBy(bs * bs)) throw n.Import($"blocksize {bs} does not divide channels {c}");
        var cOut = c / (bs * bs);
        bool crd = n.Attrs.String("mode", "DCR") == "CRD";
        var y = crd
            ? Permute(Reshape(x, new Shape(b, cOut, bs, bs, h, w)), 0, 1, 4, 2, 5, 3)
            : Permute(Reshape(x, new Shape(b, bs, bs, cOut, h, w)), 0, 3, 4, 1, 5, 2);
        return NodeImport.One(Reshape(y, new Shape(b, cOut, h * bs, w * bs)));
    }

    private static OnnxValue[] SpaceToDepth(NodeImport n)
    {
        var x = n.Input(0);
        var (b, c, h, w) = Nchw(n, x);
        long bs = n.Attrs.Int("blocksize");
        if (bs < 1 || bs > 1 << 16 || h % bs != 0 || w % bs != 0) throw n.Import($"blocksize {bs} does not divide the spatial dims {x.Shape}");
        var y = Permute(Reshape(x, new Shape(b, c, h / bs, bs, w / bs, bs)), 0, 3, 5, 1, 2, 4);
        return NodeImport.One(Reshape(y, new Shape(b, c * bs * bs, h / bs, w / bs)));
    }

    private static OnnxValue[] Trilu(NodeImport n)
    {
        var x = n.Input(0);
        if (x.Shape.Rank < 2) throw n.Import($"needs at least 2 dims, got {x.Shape}");
        long k = n.HasInput(1) ? n.ConstInts(1, "k").Single() : 0;
        bool upper = n.Attrs.Int("upper", 1) != 0;
        var rows = Reshape(Arange(x.Shape[^2]), new Shape(x.Shape[^2], Dim.One));
        var cols = Reshape(Arange(x.Shape[^1]), new Shape(Dim.One, x.Shape[^1]));
        var diff = Binary(Op.Sub, cols, rows); // j - i
        var keep = upper ? Binary(Op.Ge, diff, Scalar(k, DType.I64)) : Binary(Op.Le, diff, Scalar(k, DType.I64));
        return NodeImport.One(Where(keep, x, Scalar(0, x.DType)));
    }

    private static OnnxValue[] OneHot(NodeImport n)
    {
        var indices = Cast(n.Input(0), DType.I64);
        long[] depthValue = n.ConstInts(1, "depth");
        if (depthValue.Length != 1 || depthValue[0] < 1 || depthValue[0] > int.MaxValue) throw n.Import($"depth [{string.Join(", ", depthValue)}] must be one positive value");
        long depth = depthValue[0];
        var values = n.Input(2);
        if (values.Shape.Rank != 1 || values.Shape[0] != Dim.Of(2)) throw n.Import($"values must have shape [2], got {values.Shape}");
        int rank = indices.Shape.Rank + 1;
        int axis = n.Axis(n.Attrs.Int("axis", -1), rank);
        indices = Where(Binary(Op.Lt, indices, Scalar(0, DType.I64)), Binary(Op.Add, indices, Scalar(depth, DType.I64)), indices);
        var positions = Reshape(Arange(depth), new Shape(Enumerable.Range(0, rank).Select(i => i == axis ? Dim.Of(depth) : Dim.One)));
        var hot = Binary(Op.Eq, Unsqueeze(indices, axis), positions);
        return NodeImport.One(Where(hot, Narrow(values, 0, 1, 1).Squeezed(), Narrow(values, 0, 0, 1).Squeezed()));
    }

    private static Node Squeezed(this Node x) => Reshape(x, Shape.Scalar);

    /// <summary>
    /// ReverseSequence: along time_axis, the first sequence_lens[b] elements of each batch entry b reversed, the rest
    /// kept: a gather of index len[b] − 1 − t where t &lt; len[b], else t.
    /// </summary>
    private static OnnxValue[] ReverseSequence(NodeImport n)
    {
        var x = n.Input(0);
        int rank = x.Shape.Rank;
        if (rank < 2) throw n.Import($"needs an input of rank 2 or more, got {x.Shape}");
        int time = n.Axis(n.Attrs.Int("time_axis", 0), rank, "time_axis"), batch = n.Axis(n.Attrs.Int("batch_axis", 1), rank, "batch_axis");
        if (time + batch != 1) throw n.Import($"time_axis {time} and batch_axis {batch} must be 0 and 1");
        var lens = Cast(n.Input(1), DType.I64);
        if (lens.Shape.Rank != 1) throw n.Import($"sequence_lens must be 1-d, got {lens.Shape}");
        var shape = Enumerable.Repeat(Dim.One, rank).ToArray();
        shape[batch] = lens.Shape[0];
        var len = Reshape(lens, new Shape(shape));
        shape[batch] = Dim.One;
        shape[time] = x.Shape[time];
        var t = Reshape(Arange(x.Shape[time]), new Shape(shape));
        var index = Where(Binary(Op.Lt, t, len), Binary(Op.Sub, Binary(Op.Sub, len, Scalar(1, DType.I64)), t), t);
        return NodeImport.One(Gather(x, time, Expand(index, x.Shape)));
    }
}
