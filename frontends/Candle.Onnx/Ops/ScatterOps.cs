using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Scatter and n-dimensional gather composed from the IR's scatter-add and index-select: ScatterElements (and the
/// older Scatter) and ScatterND with reduction none or add (mul, max and min by a dense comparison), GatherND with batch dims, MaxUnpool. A plain scatter writes the sum of
/// the updates where an index hit and keeps the data elsewhere (ONNX leaves repeated indices undefined).
/// </summary>
internal static class ScatterOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["ScatterElements"] = ScatterElements;
        t["Scatter"] = ScatterElements;
        t["ScatterND"] = ScatterNd;
        t["GatherND"] = GatherNd;
        t["MaxUnpool"] = MaxUnpool;
    }

    /// <summary>
    /// MaxUnpool: X's values written at their flat indices (as MaxPool's Indices give them) into zeros of the output
    /// shape (in − 1)·stride − pads + kernel per spatial axis, zero-padded at the end to output_shape when given. A position written twice
    /// (overlapping windows) receives the same value twice, so it takes their mean.
    /// </summary>
    private static OnnxValue[] MaxUnpool(NodeImport n)
    {
        var x = n.Input(0);
        var index = Cast(n.Input(1), DType.I64);
        int s = x.Shape.Rank - 2;
        if (s < 1 || !x.Shape.IsStatic) throw n.Import($"needs a static X [N, C, ...], got {x.Shape}");
        if (!index.Shape.Equals(x.Shape)) throw n.Import($"indices {index.Shape} must have the shape of X {x.Shape}");
        var kernel = ConvOps.Ints(n, "kernel_shape", s, -1);
        if (kernel.Any(k => k < 1)) throw n.Import("needs attribute 'kernel_shape'");
        var stride = ConvOps.Ints(n, "strides", s, 1);
        var pads = ConvOps.Ints(n, "pads", 2 * s, 0);
        long[] outShape = [x.Shape[0].Value, x.Shape[1].Value, .. Enumerable.Range(0, s).Select(i => ((x.Shape[2 + i].Value - 1) * stride[i]) - pads[i] - pads[s + i] + kernel[i])];
        long[]? padded = null;
        if (n.HasInput(2))
        {
            padded = n.ConstInts(2, "output_shape");
            if (padded.Length != s + 2 || padded.Zip(outShape).Any(p => p.First < p.Second)) throw n.Import($"output_shape [{string.Join(", ", padded)}] is smaller than the unpooled shape [{string.Join(", ", outShape)}]");
        }

        if (outShape.Any(d => d < 0)) throw n.Import($"output shape [{string.Join(", ", outShape)}] is negative");
        long total = outShape.Aggregate(1L, (a, b) => a * b);
        if (total > int.MaxValue) throw n.Import($"output shape [{string.Join(", ", outShape)}] is too large");
        var flatIndex = Reshape(index, -1);
        var values = Reshape(x, -1);
        var sum = ScatterAdd(Full(0, x.DType, new Shape([Dim.Of(total)])), 0, flatIndex, values);
        var hits = ScatterAdd(Full(0, x.DType, new Shape([Dim.Of(total)])), 0, flatIndex, Full(1, x.DType, values.Shape));
        var y = Where(Binary(Op.Gt, hits, Scalar(0, x.DType)), Binary(Op.Div, sum, Binary(Op.Maximum, hits, Scalar(1, x.DType))), Scalar(0, x.DType));
        y = Reshape(y, outShape);
        if (padded is not null)
        {
            // Indices address the unpooled shape; a larger output_shape adds zeros after it on each axis.
            var pad = new int[2 * outShape.Length];
            for (int i = 0; i < outShape.Length; i++) pad[(2 * (outShape.Length - 1 - i)) + 1] = checked((int)(padded[i] - outShape[i]));
            if (pad.Any(p => p != 0)) y = Pad(y, pad);
        }

        return NodeImport.One(y);
    }

    private static string Reduction(NodeImport n)
    {
        string reduction = n.Attrs.String("reduction", "none");
        if (reduction is not ("none" or "add" or "mul" or "max" or "min")) throw n.Import($"reduction '{reduction}' is not defined");
        return reduction;
    }

    private static OnnxValue[] ScatterElements(NodeImport n)
    {
        var data = n.Input(0);
        var updates = n.Input(2);
        int axis = n.Axis(n.Attrs.Int("axis", 0), data.Shape.Rank);
        string reduction = Reduction(n);
        var index = Cast(n.Input(1), DType.I64);
        if (index.Shape.Rank != data.Shape.Rank) throw n.Import($"indices {index.Shape} must have the rank of data {data.Shape}");
        var size = data.Shape[axis].TryGetConstant() is long c ? Scalar(c, DType.I64) : throw n.Import("a symbolic scattered dimension is not supported");
        index = Where(Binary(Op.Lt, index, Scalar(0, DType.I64)), Binary(Op.Add, index, size), index);
        return NodeImport.One(Scatter(n, data, axis, index, updates, reduction));
    }

    /// <summary>Scatters <paramref name="updates"/> into <paramref name="data"/> along <paramref name="axis"/> at non-negative indices.</summary>
    private static Node Scatter(NodeImport n, Node data, int axis, Node index, Node updates, string reduction)
    {
        var work = data.DType == DType.Bool ? DType.I64 : data.DType;
        var x = Cast(data, work);
        updates = Cast(updates, work);
        if (reduction == "add") return Cast(ScatterAdd(x, axis, index, updates), data.DType);
        if (reduction is "mul" or "max" or "min") return Cast(ReducingScatter(n, x, axis, index, updates, reduction), data.DType);
        var sum = ScatterAdd(Full(0, work, data.Shape), axis, index, updates);
        var hits = ScatterAdd(Full(0, DType.I64, data.Shape), axis, index, Full(1, DType.I64, index.Shape));
        return Cast(Where(Binary(Op.Gt, hits, Scalar(0, DType.I64)), sum, x), data.DType);
    }

    /// <summary>The most elements of the [updates along the axis] × [positions along the axis] comparison a reducing scatter builds.</summary>
    private const long MaxDenseScatter = 1 << 24;

    /// <summary>
    /// A scatter with reduction mul, max or min, which the IR's scatter-add cannot express: every update is compared with
    /// every position along the axis (a dense [.., K, D, ..] mask), the updates landing on a position are reduced and combined
    /// with the data there; other positions keep the data.
    /// </summary>
    private static Node ReducingScatter(NodeImport n, Node x, int axis, Node index, Node updates, string reduction)
    {
        if (!x.Shape.IsStatic || !index.Shape.IsStatic) throw n.Import($"reduction '{reduction}' needs static shapes, got data {x.Shape} and indices {index.Shape}");
        long positions = x.Shape[axis].Value;
        if (index.Shape.Numel.Value * positions > MaxDenseScatter) throw n.Import($"reduction '{reduction}' over {index.Shape.Numel.Value} updates and {positions} positions is over the {MaxDenseScatter} compared");
        int rank = x.Shape.Rank;
        var at = Enumerable.Repeat(Dim.One, rank + 1).ToArray();
        at[axis + 1] = Dim.Of(positions);
        var mask = Binary(Op.Eq, Unsqueeze(index, axis + 1), Reshape(Arange(Dim.Of(positions)), new Shape(at)));
        // Positions no update lands on keep the data; among the updates, a filler that cannot win stands for the others.
        var (filler, op, combine) = reduction switch
        {
            "mul" => (Scalar(1, x.DType), Op.Prod, Op.Mul),
            "max" => (IrBuilder.Reduce(Op.Min, updates), Op.Max, Op.Maximum),
            _ => (IrBuilder.Reduce(Op.Max, updates), Op.Min, Op.Minimum),
        };
        var candidates = Where(mask, Unsqueeze(updates, axis + 1), filler);
        var reduced = IrBuilder.Reduce(op, candidates, [axis]);
        var hits = IrBuilder.Reduce(Op.Sum, Cast(mask, DType.I64), [axis]);

        // Updates may cover fewer entries than the data on the other axes: those positions have no hits.
        var pad = new int[2 * rank];
        for (int i = 0; i < rank; i++)
        {
            if (i != axis) pad[(2 * (rank - 1 - i)) + 1] = checked((int)(x.Shape[i].Value - reduced.Shape[i].Value));
        }

        if (pad.Any(p => p != 0)) (reduced, hits) = (Pad(reduced, pad), Pad(hits, pad));
        return Where(Binary(Op.Gt, hits, Scalar(0, DType.I64)), Binary(combine, x, reduced), x);
    }

    private static long[] ConstDims(NodeImport n, IEnumerable<Dim> dims, string what) =>
        [.. dims.Select(d => d.TryGetConstant() ?? throw n.Import($"needs constant {what}, got {d}"))];

    /// <summary>
    /// The row of each index tuple (the last axis of <paramref name="index"/>, <c>k</c> long) in <paramref name="dims"/>
    /// flattened, negative entries counted from the end: Σ index[j] · stride[j].
    /// </summary>
    private static Node LinearIndex(Node index, long[] dims)
    {
        int k = dims.Length;
        var strides = new long[k];
        long stride = 1;
        for (int j = k - 1; j >= 0; j--)
        {
            strides[j] = stride;
            stride *= dims[j];
        }

        index = Cast(index, DType.I64);
        var size = Constant(HostTensor.FromArray(dims, k));
        index = Where(Binary(Op.Lt, index, Scalar(0, DType.I64)), Binary(Op.Add, index, size), index);
        return IrBuilder.Reduce(Op.Sum, Binary(Op.Mul, index, Constant(HostTensor.FromArray(strides, k))), [index.Shape.Rank - 1]);
    }

    private static OnnxValue[] ScatterNd(NodeImport n)
    {
        var data = n.Input(0);
        var index = n.Input(1);
        var updates = n.Input(2);
        string reduction = Reduction(n);
        var d = ConstDims(n, data.Shape, "data dims");
        int k = (int)(index.Shape[^1].TryGetConstant() ?? throw n.Import("needs a constant last dimension of indices"));
        if (k < 1 || k > d.Length) throw n.Import($"index tuples of length {k} do not fit data {data.Shape}");
        long rows = d.Take(k).Aggregate(1L, (a, b) => a * b), rest = d.Skip(k).Aggregate(1L, (a, b) => a * b);
        var q = ShapeOps.Product(index.Shape.Take(index.Shape.Rank - 1));
        var lin = Reshape(LinearIndex(index, [.. d.Take(k)]), new Shape(q, Dim.One));
        var flat = Reshape(data, new Shape(rows, rest));
        var src = Reshape(updates, new Shape(q, Dim.Of(rest)));
        var result = Scatter(n, flat, 0, BroadcastTo(lin, new Shape(q, Dim.Of(rest))), src, reduction);
        return NodeImport.One(Reshape(result, data.Shape));
    }

    private static OnnxValue[] GatherNd(NodeImport n)
    {
        var data = n.Input(0);
        var index = n.Input(1);
        int b = (int)n.Attrs.Int("batch_dims", 0);
        if (b < 0 || b >= Math.Min(data.Shape.Rank, index.Shape.Rank)) throw n.Import($"batch_dims {b} is out of range");
        var d = ConstDims(n, data.Shape, "data dims");
        int k = (int)(index.Shape[^1].TryGetConstant() ?? throw n.Import("needs a constant last dimension of indices"));
        if (k < 1 || b + k > d.Length) throw n.Import($"index tuples of length {k} do not fit data {data.Shape} with {b} batch dims");
        long batch = d.Take(b).Aggregate(1L, (a, c) => a * c), rows = d.Skip(b).Take(k).Aggregate(1L, (a, c) => a * c);
        var q = ShapeOps.Product(index.Shape.Skip(b).Take(index.Shape.Rank - 1 - b));
        var lin = Reshape(LinearIndex(index, [.. d.Skip(b).Take(k)]), new Shape(Dim.Of(batch), q));
        if (b > 0) lin = Binary(Op.Add, lin, Reshape(Arange(batch, DType.I64, 0, rows), new Shape(batch, 1)));
        var rest = data.Shape.Skip(b + k).ToList();
        var flat = Reshape(data, new Shape([Dim.Of(batch * rows), .. rest]));
        var picked = IndexSelect(flat, 0, Reshape(lin, new Shape(Dim.Of(batch) * q)));
        return NodeImport.One(Reshape(picked, new Shape([.. index.Shape.Take(index.Shape.Rank - 1), .. rest])));
    }
}
