using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Movement and shape ops: Reshape, Transpose, Squeeze/Unsqueeze (axes attribute, an input since opset 13), Flatten,
/// Concat, Split, Slice (attributes before opset 10), Gather, Expand, Tile, Pad, Shape and Size. Shape computations
/// (Shape, Gather, Concat, Slice, Squeeze/Unsqueeze of int64 shapes) fold at import time into symbolic dims.
/// </summary>
internal static class ShapeOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["Reshape"] = ReshapeOp;
        t["Transpose"] = n =>
        {
            var x = n.Input(0);
            var perm = n.Attrs.Ints("perm") ?? [.. Enumerable.Range(0, x.Shape.Rank).Reverse().Select(i => (long)i)];
            if (perm.Length != x.Shape.Rank || perm.Distinct().Count() != perm.Length) throw n.Import($"perm [{string.Join(", ", perm)}] is not a permutation of rank {x.Shape.Rank}");
            return NodeImport.One(Permute(x, [.. perm.Select(p => n.Axis(p, x.Shape.Rank, "perm entry"))]));
        };
        t["Squeeze"] = SqueezeOp;
        t["Unsqueeze"] = UnsqueezeOp;
        t["Flatten"] = n =>
        {
            var x = n.Input(0);
            long axis = n.Attrs.Int("axis", 1);
            if (axis < -x.Shape.Rank || axis > x.Shape.Rank) throw n.Import($"axis {axis} is out of range for rank {x.Shape.Rank}");
            int a = (int)(axis < 0 ? axis + x.Shape.Rank : axis);
            return NodeImport.One(Reshape(x, new Shape(Product(x.Shape.Take(a)), Product(x.Shape.Skip(a)))));
        };
        t["Concat"] = ConcatOp;
        t["Split"] = SplitOp;
        t["Slice"] = SliceOp;
        t["Gather"] = GatherOp;
        t["Expand"] = n =>
        {
            var x = n.Input(0);
            var shape = new Shape(Dims(n, 1, "shape"));
            var target = BroadcastShapes(Op.Expand, x, Full(0, x.DType, shape));
            return NodeImport.One(BroadcastTo(x, target));
        };
        t["Tile"] = TileOp;
        t["Pad"] = PadOp;
        t["Shape"] = n =>
        {
            var dims = n.Input(0).Shape.Dims;
            int r = dims.Length;
            long start = n.Attrs.Int("start", 0), end = n.Attrs.Int("end", r);
            int s = (int)Math.Clamp(start < 0 ? start + r : start, 0, r), e = (int)Math.Clamp(end < 0 ? end + r : end, 0, r);
            return [OnnxValue.FromDims(e > s ? dims[s..e] : [])];
        };
        t["Size"] = n => [OnnxValue.FromDims([n.Input(0).Shape.Numel], scalar: true)];
    }

    internal static Dim Product(IEnumerable<Dim> dims) => dims.Aggregate(Dim.One, (a, d) => a * d);

    /// <summary>Input <paramref name="i"/> as a shape known at import time (constant or symbolic), each dim checked.</summary>
    internal static Dim[] Dims(NodeImport n, int i, string what)
    {
        var dims = n.KnownDims(i) ?? throw n.Import($"needs {what} (input {i}) to be known at import time (a constant or a folded shape); it is computed at run time");
        if (dims.Length > 64) throw n.Import($"{what} has {dims.Length} entries");
        foreach (var d in dims)
        {
            if (d.TryGetConstant() is long c && (c < -1 || c > int.MaxValue)) throw n.Import($"{what} [{string.Join(", ", dims.AsEnumerable())}] has an entry out of range");
        }

        return dims;
    }

    private static OnnxValue[] ReshapeOp(NodeImport n)
    {
        var x = n.Input(0);
        Dim[] target = n.Opset < 5
            ? [.. (n.Attrs.Ints("shape") ?? throw n.Import("needs attribute 'shape'")).Select(Dim.Of)]
            : Dims(n, 1, "shape");
        bool allowZero = n.Attrs.Int("allowzero", 0) != 0;
        var dims = new Dim[target.Length];
        int infer = -1;
        for (int i = 0; i < target.Length; i++)
        {
            var d = target[i];
            if (d == Dim.Zero && !allowZero)
            {
                if (i >= x.Shape.Rank) throw n.Import($"shape entry {i} is 0 (copy) but the input has rank {x.Shape.Rank}");
                dims[i] = x.Shape[i];
            }
            else if (d.TryGetConstant() == -1)
            {
                if (infer >= 0) throw n.Import("shape has more than one -1 entry");
                infer = i;
            }
            else
            {
                dims[i] = d;
            }
        }

        if (infer >= 0) dims[infer] = Infer(n, x.Shape, dims.Where((_, i) => i != infer));
        var shape = new Shape(dims);
        if (shape.Numel != x.Shape.Numel && shape.IsStatic && x.Shape.IsStatic) throw n.Import($"cannot reshape {x.Shape} into {shape}");
        return NodeImport.One(Reshape(x, shape));
    }

    /// <summary>The dim a −1 entry stands for: the input's elements divided by the other entries (symbols cancel).</summary>
    private static Dim Infer(NodeImport n, Shape input, IEnumerable<Dim> others)
    {
        var remaining = input.ToList();
        long known = 1;
        foreach (var d in others)
        {
            if (d.TryGetConstant() is long c)
            {
                known *= c;
                continue;
            }

            int at = remaining.IndexOf(d);
            if (at < 0) throw n.Import($"cannot infer the -1 entry: {d} does not divide {input}");
            remaining.RemoveAt(at);
        }

        var rest = Product(remaining);
        if (known == 0 || !rest.IsDivisibleBy(known) && !rest.IsConstant) throw n.Import($"cannot infer the -1 entry of a reshape of {input}");
        if (rest.IsConstant && rest.Value % known != 0) throw n.Import($"cannot reshape {input}: {rest} elements are not a multiple of {known}");
        return rest / known;
    }

    private static long[]? AxesOf(NodeImport n, int inputSince13)
    {
        if (n.Opset >= 13) return n.HasInput(inputSince13) ? n.ConstInts(inputSince13, "axes") : null;
        return n.Attrs.Ints("axes");
    }

    private static OnnxValue[] SqueezeOp(NodeImport n)
    {
        var axes = AxesOf(n, 1);
        if (n.ShapeLike(0) is { } known && known.Values.Length == 1 && !known.Scalar)
        {
            return [OnnxValue.FromDims(known.Values, scalar: true)];
        }

        var x = n.Input(0);
        if (axes is null || axes.Length == 0)
        {
            if (x.Shape.Any(d => !d.IsConstant)) throw n.Import($"squeezing every size-1 dim needs a static shape, got {x.Shape}");
            return NodeImport.One(Squeeze(x));
        }

        int[] norm = [.. axes.Select(a => n.Axis(a, x.Shape.Rank, "axes entry"))];
        foreach (int a in norm)
        {
            if (x.Shape[a] != Dim.One) throw n.Import($"cannot squeeze dimension {a} of size {x.Shape[a]}");
        }

        return NodeImport.One(Reshape(x, new Shape(x.Shape.Where((_, i) => !norm.Contains(i)))));
    }

    private static OnnxValue[] UnsqueezeOp(NodeImport n)
    {
        var axes = AxesOf(n, 1) ?? throw n.Import("needs axes");
        if (n.ShapeLike(0) is { Scalar: true } known && axes.Length == 1 && axes[0] is 0 or -1)
        {
            return [OnnxValue.FromDims(known.Values)];
        }

        var x = n.Input(0);
        int rank = x.Shape.Rank + axes.Length;
        int[] norm = [.. axes.Select(a => n.Axis(a, rank, "axes entry")).Order()];
        if (norm.Distinct().Count() != norm.Length) throw n.Import($"axes [{string.Join(", ", axes)}] repeat an axis");
        var dims = x.Shape.ToList();
        foreach (int a in norm) dims.Insert(a, Dim.One);
        return NodeImport.One(Reshape(x, new Shape(dims)));
    }

    private static OnnxValue[] ConcatOp(NodeImport n)
    {
        if (n.InputCount == 0) throw n.Format("needs at least one input");
        var known = Enumerable.Range(0, n.InputCount).Select(n.ShapeLike).ToList();
        if (known.All(k => k is { Scalar: false }) && known.Any(k => k!.Value.Values.Any(d => !d.IsConstant)))
        {
            return [OnnxValue.FromDims([.. known.SelectMany(k => k!.Value.Values)])];
        }

        var xs = Enumerable.Range(0, n.InputCount).Select(n.Input).ToList();
        int axis = n.Axis(n.Attrs.Int("axis"), xs[0].Shape.Rank);
        var nonEmpty = xs.Where(x => x.Shape[axis] != Dim.Zero || x.Shape.Rank != xs[0].Shape.Rank).ToList();
        return NodeImport.One(Concat(nonEmpty.Count == 0 ? xs : nonEmpty, axis));
    }

    private static OnnxValue[] SplitOp(NodeImport n)
    {
        var x = n.Input(0);
        int axis = n.Axis(n.Attrs.Int("axis", 0), x.Shape.Rank);
        int parts = n.OutputCount;
        long[]? sizes = n.Opset >= 13 ? (n.HasInput(1) ? n.ConstInts(1, "split") : null) : n.Attrs.Ints("split");
        var len = x.Shape[axis];
        if (sizes is null)
        {
            long total = len.TryGetConstant() ?? throw n.Import($"splitting a symbolic dimension {len} needs explicit sizes");
            if (n.Opset >= 18 && n.Attrs.Has("num_outputs")) parts = checked((int)n.Attrs.Int("num_outputs"));
            if (parts < 1 || parts != n.OutputCount) throw n.Import($"splits into {parts} parts but lists {n.OutputCount} outputs");
            long chunk = (total + parts - 1) / parts;
            if (n.Opset < 18 && total % parts != 0) throw n.Import($"cannot split {total} into {parts} equal parts");
            sizes = [.. Enumerable.Range(0, parts).Select(i => Math.Max(0, Math.Min(chunk, total - (i * chunk))))];
        }

        if (sizes.Length != n.OutputCount) throw n.Import($"split has {sizes.Length} sizes but the node lists {n.OutputCount} outputs");
        if (sizes.Any(s => s < 0)) throw n.Import($"split sizes [{string.Join(", ", sizes)}] are negative");
        if (len.TryGetConstant() is long l && sizes.Sum() != l) throw n.Import($"split sizes [{string.Join(", ", sizes)}] do not add up to {l}");
        var outs = new OnnxValue[sizes.Length];
        long start = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            outs[i] = new OnnxValue(Narrow(x, axis, start, sizes[i]));
            start += sizes[i];
        }

        return outs;
    }

    private static OnnxValue[] SliceOp(NodeImport n)
    {
        long[] starts, ends;
        long[]? axes, steps = null;
        Dim[]? symbolicEnds = null;
        if (n.Opset < 10)
        {
            starts = n.Attrs.Ints("starts") ?? throw n.Import("needs attribute 'starts'");
            ends = n.Attrs.Ints("ends") ?? throw n.Import("needs attribute 'ends'");
            axes = n.Attrs.Ints("axes");
        }
        else
        {
            starts = n.ConstInts(1, "starts");
            symbolicEnds = n.KnownDims(2) is { } e && e.Any(d => !d.IsConstant) ? e : null;
            ends = symbolicEnds is null ? n.ConstInts(2, "ends") : [.. symbolicEnds.Select(d => d.TryGetConstant() ?? long.MaxValue)];
            axes = n.HasInput(3) ? n.ConstInts(3, "axes") : null;
            steps = n.HasInput(4) ? n.ConstInts(4, "steps") : null;
        }

        if (ends.Length != starts.Length || axes is not null && axes.Length != starts.Length || steps is not null && steps.Length != starts.Length)
        {
            throw n.Import("starts, ends, axes and steps have different lengths");
        }

        if (n.ShapeLike(0) is { Scalar: false } known && known.Values.Any(d => !d.IsConstant) && starts.Length == 1)
        {
            var v = known.Values;
            long step = steps?[0] ?? 1;
            if (step != 1) throw n.Import("slicing a symbolic shape needs step 1");
            long s = Clamp(starts[0], v.Length), e = Clamp(ends[0], v.Length);
            return [OnnxValue.FromDims(e > s ? v[(int)s..(int)e] : [])];
        }

        var x = n.Input(0);
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = n.Axis(axes?[i] ?? i, x.Shape.Rank, "axes entry");
            long step = steps?[i] ?? 1;
            if (step == 0 || step > int.MaxValue || step < -int.MaxValue) throw n.Import($"step {step} is not supported");
            if (symbolicEnds is not null && !symbolicEnds[i].IsConstant)
            {
                // An end that is a symbolic size (a sequence length): the slice is that many elements from a non-negative start.
                if (step != 1 || starts[i] < 0) throw n.Import($"a symbolic end {symbolicEnds[i]} needs step 1 and a non-negative start");
                x = Narrow(x, axis, starts[i], symbolicEnds[i] - starts[i]);
                continue;
            }

            x = SliceAxis(n, x, axis, starts[i], ends[i], (int)step);
        }

        return NodeImport.One(x);

        static long Clamp(long v, long n) => Math.Clamp(v < 0 ? v + n : v, 0, n);
    }

    private static Node SliceAxis(NodeImport n, Node x, int axis, long start, long end, int step)
    {
        var dim = x.Shape[axis];
        if (dim.TryGetConstant() is not long len)
        {
            if (step != 1 || start < 0) throw n.Import($"slicing symbolic dimension {dim} needs step 1 and a non-negative start");
            if (end >= int.MaxValue) return Narrow(x, axis, start, dim - start);
            if (end < 0) return Narrow(x, axis, start, dim + end - start);
            return Narrow(x, axis, start, end - start);
        }

        if (step > 0)
        {
            long s = Math.Clamp(start < 0 ? start + len : start, 0, len);
            long e = Math.Clamp(end < 0 ? end + len : end, 0, len);
            return e <= s ? Narrow(x, axis, 0, 0) : Slice(x, axis, s, e, step);
        }

        // Negative steps walk from start down to end (exclusive): the same elements as a forward slice of the flipped axis.
        long st = Math.Clamp(start < 0 ? start + len : start, -1, len - 1);
        long en = Math.Clamp(end < 0 ? end + len : end, -1, len - 1);
        if (st <= en) return Narrow(x, axis, 0, 0);
        return Slice(Flip(x, axis), axis, len - 1 - st, len - 1 - en, -step);
    }

    private static OnnxValue[] GatherOp(NodeImport n)
    {
        var known = n.ShapeLike(0);
        var idx = n.ShapeLike(1);
        if (known is { Scalar: false } k && idx is { } ix && ix.Values.All(d => d.IsConstant) && n.Attrs.Int("axis", 0) == 0)
        {
            var picked = new List<Dim>();
            foreach (var d in ix.Values)
            {
                long i = d.Value < 0 ? d.Value + k.Values.Length : d.Value;
                if (i < 0 || i >= k.Values.Length) throw n.Import($"index {d.Value} is out of range for {k.Values.Length} entries");
                picked.Add(k.Values[i]);
            }

            return [OnnxValue.FromDims(picked, ix.Scalar)];
        }

        var x = n.Input(0);
        int axis = n.Axis(n.Attrs.Int("axis", 0), x.Shape.Rank);
        var index = n.Input(1);
        if (index.DType is not (DType.I64 or DType.I32)) throw n.Import($"indices must be int32 or int64, got {index.DType.TorchName()}");
        index = Cast(index, DType.I64);
        var constantIndex = NodeImport.ConstantInts(index);
        if (constantIndex is not null && constantIndex.All(v => v >= 0) && x.Shape[axis].TryGetConstant() is null)
        {
            // Non-negative constant indices into a symbolic dimension (the first token): nothing to wrap.
        }
        else if (constantIndex is { } values && x.Shape[axis].TryGetConstant() is long len)
        {
            if (values.Any(v => v < -len || v >= len)) throw n.Import($"an index is out of range for dimension {axis} of size {len}");
            if (values.Any(v => v < 0))
            {
                var fixedValues = values.Select(v => v < 0 ? v + len : v).ToArray();
                index = Constant(Runtime.Tensors.HostTensor.FromArray(fixedValues, index.Shape.ToInts()));
            }
        }
        else
        {
            var size = x.Shape[axis].TryGetConstant() is long c ? Scalar(c, DType.I64) : throw n.Import("negative indices into a symbolic dimension are not supported");
            index = Where(Binary(Op.Lt, index, Scalar(0, DType.I64)), Binary(Op.Add, index, size), index);
        }

        return NodeImport.One(IndexSelect(x, axis, index));
    }

    private static OnnxValue[] TileOp(NodeImport n)
    {
        var x = n.Input(0);
        long[] repeats = n.ConstInts(1, "repeats");
        if (repeats.Length != x.Shape.Rank || repeats.Any(r => r < 0 || r > int.MaxValue)) throw n.Import($"repeats [{string.Join(", ", repeats)}] do not fit rank {x.Shape.Rank}");
        var interleaved = new List<Dim>();
        var expanded = new List<Dim>();
        var result = new List<Dim>();
        for (int i = 0; i < repeats.Length; i++)
        {
            interleaved.AddRange([Dim.One, x.Shape[i]]);
            expanded.AddRange([repeats[i], x.Shape[i]]);
            result.Add(x.Shape[i] * repeats[i]);
        }

        var y = BroadcastTo(Reshape(x, new Shape(interleaved)), new Shape(expanded));
        return NodeImport.One(Reshape(y, new Shape(result)));
    }

    private static OnnxValue[] PadOp(NodeImport n)
    {
        var x = n.Input(0);
        string mode = n.Attrs.String("mode", "constant");
        if (mode is not ("constant" or "edge" or "reflect" or "wrap")) throw n.Import($"mode '{mode}' is not supported");
        long[] pads;
        double value;
        int[] axes;
        if (n.Opset < 11)
        {
            pads = n.Attrs.Ints("pads") ?? n.Attrs.Ints("paddings") ?? throw n.Import("needs attribute 'pads'");
            value = n.Attrs.Float("value", 0);
            axes = [.. Enumerable.Range(0, x.Shape.Rank)];
        }
        else
        {
            pads = n.ConstInts(1, "pads");
            value = 0;
            if (n.HasInput(2))
            {
                var v = n.Input(2);
                if (v.Op == Op.Constant) value = v.Attr<ConstantAttrs>().Data.GetDouble(0);
                else if (v.Op == Op.Full) value = v.Attr<FullAttrs>().Value;
                else throw n.Import("needs constant_value to be a constant");
            }

            axes = n.HasInput(3) ? [.. n.ConstInts(3, "axes").Select(a => n.Axis(a, x.Shape.Rank, "axes entry"))] : [.. Enumerable.Range(0, x.Shape.Rank)];
        }

        if (pads.Length != 2 * axes.Length) throw n.Import($"pads has {pads.Length} entries for {axes.Length} axes");
        if (pads.Any(p => p < -int.MaxValue || p > int.MaxValue)) throw n.Import($"pads [{string.Join(", ", pads)}] are out of range");

        // Negative pads crop first; edge, reflect and wrap then concatenate slices of the input per axis.
        for (int i = 0; i < axes.Length; i++)
        {
            long before = pads[i], after = pads[axes.Length + i];
            if (before >= 0 && after >= 0) continue;
            var len = x.Shape[axes[i]].TryGetConstant() ?? throw n.Import("negative pads of a symbolic dimension are not supported");
            long start = Math.Max(0, -before), end = len - Math.Max(0, -after);
            if (end < start) throw n.Import($"pads [{string.Join(", ", pads)}] crop more than dimension {axes[i]} holds");
            x = Narrow(x, axes[i], start, end - start);
            pads[i] = Math.Max(0, before);
            pads[axes.Length + i] = Math.Max(0, after);
        }

        if (mode != "constant")
        {
            for (int i = 0; i < axes.Length; i++) x = PadAxis(n, x, axes[i], (int)pads[i], (int)pads[axes.Length + i], mode);
            return NodeImport.One(x);
        }

        var torch = new int[2 * x.Shape.Rank];
        for (int i = 0; i < axes.Length; i++)
        {
            int fromLast = x.Shape.Rank - 1 - axes[i];
            torch[2 * fromLast] = (int)pads[i];
            torch[(2 * fromLast) + 1] = (int)pads[axes.Length + i];
        }

        return NodeImport.One(Pad(x, torch, value));
    }

    /// <summary>Edge, reflect or wrap padding of one axis.</summary>
    private static Node PadAxis(NodeImport n, Node x, int axis, int before, int after, string mode)
    {
        if (before == 0 && after == 0) return x;
        long len = x.Shape[axis].TryGetConstant() ?? throw n.Import($"mode '{mode}' needs a constant dimension {axis}, got {x.Shape}");
        if (len == 0) throw n.Import($"mode '{mode}' cannot pad an empty dimension {axis}");
        if (mode == "reflect" && (before >= len || after >= len)) throw n.Import($"reflect pads ({before}, {after}) must be smaller than dimension {axis} of size {len}");
        Node Side(int count, bool left)
        {
            switch (mode)
            {
                case "edge":
                    var edge = Narrow(x, axis, left ? 0 : len - 1, 1);
                    return BroadcastTo(edge, x.Shape.With(axis, count));
                case "reflect":
                    return Flip(Narrow(x, axis, left ? 1 : len - 1 - count, count), axis);
                default: // wrap, possibly around more than once
                    var parts = new List<Node>();
                    long need = count;
                    long at = left ? ((len - (count % len)) % len) : 0;
                    while (need > 0)
                    {
                        long take = Math.Min(need, len - at);
                        parts.Add(Narrow(x, axis, at, take));
                        need -= take;
                        at = 0;
                    }

                    return parts.Count == 1 ? parts[0] : Concat(parts, axis);
            }
        }

        var pieces = new List<Node>();
        if (before > 0) pieces.Add(Side(before, left: true));
        pieces.Add(x);
        if (after > 0) pieces.Add(Side(after, left: false));
        return Concat(pieces, axis);
    }
}
