using Candle.Runtime;

namespace Candle.Compiler.Ir;

public static partial class IrBuilder
{
    /// <summary>Reshape to <paramref name="shape"/>; identity when the shape is unchanged.</summary>
    public static Node Reshape(Node x, Shape shape)
    {
        if (x.Shape.Equals(shape)) return x;
        if (x.Op == Op.Reshape) x = x.Inputs[0]; // reshape of reshape is one reshape
        if (x.Shape.Equals(shape)) return x;
        return Node.Create(Op.Reshape, new ShapeAttrs(shape), x);
    }

    /// <summary>Reshape with at most one −1 entry (long values; use the <see cref="Shape"/> overload for symbols).</summary>
    public static Node Reshape(Node x, params long[] dims)
    {
        int infer = Array.IndexOf(dims, -1L);
        if (infer >= 0 && Array.LastIndexOf(dims, -1L) != infer) throw IrException.For(Op.Reshape, [x], "only one dimension can be -1");
        if (dims.Any(d => d < -1)) throw IrException.For(Op.Reshape, [x], $"invalid shape [{string.Join(", ", dims)}]");
        var result = dims.Select(Dim.Of).ToArray();
        if (infer >= 0)
        {
            long known = dims.Where(d => d != -1).Aggregate(1L, (a, d) => a * d);
            var total = x.Shape.Numel;
            if (known == 0 || !total.IsDivisibleBy(known))
            {
                throw IrException.For(Op.Reshape, [x], $"cannot reshape {total} elements into [{string.Join(", ", dims)}]");
            }

            result[infer] = total / known;
        }

        return Reshape(x, new Shape(result));
    }

    /// <summary>Permutes axes (negative axes allowed); identity permutations fold away.</summary>
    public static Node Permute(Node x, params int[] perm)
    {
        if (perm.Length != x.Shape.Rank) throw IrException.For(Op.Permute, [x], $"permutation [{string.Join(", ", perm)}] has the wrong length");
        int[] p = [.. perm.Select(a => x.Shape.Axis(a, "permute"))];
        if (p.SequenceEqual(Enumerable.Range(0, p.Length))) return x;
        if (x.Op == Op.Permute)
        {
            var inner = x.Attr<PermuteAttrs>().Perm;
            return Permute(x.Inputs[0], [.. p.Select(i => inner[i])]);
        }

        return Node.Create(Op.Permute, new PermuteAttrs(p), x);
    }

    /// <summary>Swaps two axes.</summary>
    public static Node Transpose(Node x, int dim0, int dim1)
    {
        int a = x.Shape.Axis(dim0, "transpose"), b = x.Shape.Axis(dim1, "transpose");
        var perm = Enumerable.Range(0, x.Shape.Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(x, perm);
    }

    /// <summary>Expands size-1 dims (and prepends new ones) to <paramref name="shape"/>.</summary>
    public static Node Expand(Node x, Shape shape) => BroadcastTo(x, shape);

    /// <summary>Inserts a size-1 dim at <paramref name="axis"/> (−1 appends).</summary>
    public static Node Unsqueeze(Node x, int axis)
    {
        int a = axis < 0 ? axis + x.Shape.Rank + 1 : axis;
        if (a < 0 || a > x.Shape.Rank) throw IrException.For(Op.Reshape, [x], $"unsqueeze axis {axis} is out of range");
        var dims = x.Shape.ToList();
        dims.Insert(a, Dim.One);
        return Reshape(x, new Shape(dims));
    }

    /// <summary>Removes size-1 dims: the given ones (which must have size 1 to be removed, as in PyTorch), or all.</summary>
    public static Node Squeeze(Node x, params int[] axes)
    {
        var set = axes.Length == 0 ? null : axes.Select(a => x.Shape.Axis(a, "squeeze")).ToHashSet();
        var dims = x.Shape.Where((d, i) => !(d == Dim.One && (set is null || set.Contains(i))));
        return Reshape(x, new Shape(dims));
    }

    /// <summary>
    /// Python-style slice x[start:end:step] along <paramref name="axis"/> of a constant dimension:
    /// negative indices count from the end, out-of-range bounds clamp. Null means the default bound.
    /// </summary>
    public static Node Slice(Node x, int axis, long? start, long? end, int step = 1)
    {
        int a = x.Shape.Axis(axis, "slice");
        if (step < 1) throw IrException.For(Op.Slice, [x], $"step must be ≥ 1, got {step}");
        var dim = x.Shape[a];
        if (dim.TryGetConstant() is not long n)
        {
            if ((start ?? 0) < 0 || end is not null && end < 0)
            {
                throw IrException.For(Op.Slice, [x], $"negative bounds need a constant dimension, but dimension {a} is {dim}");
            }

            return Narrow(x, a, Dim.Of(start ?? 0), end is null ? dim - (start ?? 0) : Dim.Of(end.Value - (start ?? 0)), step);
        }

        long s = start ?? 0, e = end ?? n;
        if (s < 0) s += n;
        if (e < 0) e += n;
        s = Math.Clamp(s, 0, n);
        e = Math.Clamp(e, s, n);
        if (s == 0 && e == n && step == 1) return x;
        return Node.Create(Op.Slice, new SliceAttrs(a, s, e, step), x);
    }

    /// <summary>torch.narrow: <paramref name="length"/> elements from <paramref name="start"/> (symbolic allowed).</summary>
    public static Node Narrow(Node x, int axis, Dim start, Dim length, int step = 1)
    {
        int a = x.Shape.Axis(axis, "narrow");
        if (start == Dim.Zero && length == x.Shape[a] && step == 1) return x;
        return Node.Create(Op.Slice, new SliceAttrs(a, start, start + length, step), x);
    }

    /// <summary>
    /// torch.slice_scatter: a copy of <paramref name="x"/> whose elements <paramref name="start"/>,
    /// start + <paramref name="step"/>, ... along <paramref name="axis"/> are replaced by <paramref name="src"/> (cast to
    /// x's dtype). Compiled plans write it in place when x is a donated input read by nothing else.
    /// </summary>
    /// <exception cref="IrException">The source does not have the slice's shape, or the slice is out of range.</exception>
    public static Node SliceScatter(Node x, Node src, int axis, Dim start, int step = 1)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(src);
        int a = x.Shape.Axis(axis, "slice_scatter");
        if (step < 1) throw IrException.For(Op.SliceScatter, [x, src], $"step must be ≥ 1, got {step}");
        if (src.Shape.Rank != x.Shape.Rank) throw IrException.For(Op.SliceScatter, [x, src], "source must have the input's rank");
        var len = src.Shape[a];
        var end = step == 1 || len == Dim.Zero ? start + len : start + ((len - 1) * step) + 1;
        return Node.Create(Op.SliceScatter, new SliceAttrs(a, start, end, step), x, Cast(src, x.DType));
    }

    /// <summary>Concatenates along <paramref name="axis"/> with dtype promotion.</summary>
    public static Node Concat(IEnumerable<Node> xs, int axis)
    {
        var list = xs.ToList();
        if (list.Count == 0) throw new IrException("concat: needs at least one input");
        if (list.Count == 1) return list[0];
        var dt = list.Select(n => n.DType).Aggregate(DTypeExtensions.Promote);
        int a = list[0].Shape.Axis(axis, "concat");
        return Node.Create(Op.Concat, [.. list.Select(n => Cast(n, dt))], new AxisAttrs(a));
    }

    /// <summary>Stacks along a new axis.</summary>
    public static Node Stack(IEnumerable<Node> xs, int axis) => Concat(xs.Select(x => Unsqueeze(x, axis)), axis);

    /// <summary>
    /// torch.nn.functional.pad with constant mode: <paramref name="pad"/> lists (before, after) pairs starting from the LAST axis.
    /// </summary>
    public static Node Pad(Node x, IReadOnlyList<int> pad, double value = 0)
    {
        if (pad.Count % 2 != 0 || pad.Count / 2 > x.Shape.Rank) throw IrException.For(Op.Pad, [x], $"invalid padding [{string.Join(", ", pad)}]");
        var before = new int[x.Shape.Rank];
        var after = new int[x.Shape.Rank];
        for (int i = 0; i < pad.Count / 2; i++)
        {
            before[x.Shape.Rank - 1 - i] = pad[2 * i];
            after[x.Shape.Rank - 1 - i] = pad[(2 * i) + 1];
        }

        if (before.All(p => p == 0) && after.All(p => p == 0)) return x;
        return Node.Create(Op.Pad, new PadAttrs(before, after, value), x);
    }

    /// <summary>Reverses the given axes.</summary>
    public static Node Flip(Node x, params int[] axes) =>
        Node.Create(Op.Flip, new AxesAttrs([.. axes.Select(a => x.Shape.Axis(a, "flip")).Distinct().Order()]), x);

    /// <summary>numpy.take / index_select / embedding: rows of <paramref name="x"/> along <paramref name="axis"/> chosen by <paramref name="index"/>.</summary>
    public static Node IndexSelect(Node x, int axis, Node index) =>
        Node.Create(Op.IndexSelect, new AxisAttrs(x.Shape.Axis(axis, "index_select")), x, index);

    /// <summary>torch.gather.</summary>
    public static Node Gather(Node x, int axis, Node index) =>
        Node.Create(Op.Gather, new AxisAttrs(x.Shape.Axis(axis, "gather")), x, index);

    /// <summary>torch.scatter_add (out of place).</summary>
    public static Node ScatterAdd(Node x, int axis, Node index, Node src) =>
        Node.Create(Op.ScatterAdd, new AxisAttrs(x.Shape.Axis(axis, "scatter_add")), x, index, Cast(src, x.DType));
}
