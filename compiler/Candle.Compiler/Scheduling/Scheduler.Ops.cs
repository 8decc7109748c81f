using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    private static Dim Prod(IEnumerable<Dim> dims) => dims.Aggregate(Dim.One, (a, d) => a * d);

    private static TensorView Permute(TensorView v, IReadOnlyList<int> perm) =>
        v with { Shape = [.. perm.Select(i => v.Shape[i])], Strides = [.. perm.Select(i => v.Strides[i])] };

    private TensorView ScheduleView(Node node, TensorView v)
    {
        if (v.IsConstant) return TensorView.Const(v.Constant!.Value, node.DType, node.Shape);
        switch (node.Op)
        {
            case Op.Reshape:
                if (ReshapedStrides(v, node.Shape) is { } viewStrides) return v with { Shape = [.. node.Shape], Strides = viewStrides, DType = node.DType };
                v = Dense(v.IsDeferredCast ? MaterializeCast(v) : v, "reshape");
                return new TensorView(v.Slot, v.Offset, [.. node.Shape], TensorView.ContiguousStrides(node.Shape), node.DType);
            case Op.Permute:
                return Permute(v, node.Attr<PermuteAttrs>().Perm);
            case Op.Expand:
            {
                var strides = v.Strides.ToArray();
                for (int i = 0; i < strides.Length; i++)
                {
                    if (v.Shape[i] != node.Shape[i]) strides[i] = Dim.Zero;
                }

                return v with { Shape = [.. node.Shape], Strides = strides };
            }

            case Op.Slice:
            {
                var a = node.Attr<SliceAttrs>();
                CheckSlice(a, v.Shape[a.Axis], label: "slice");
                var strides = v.Strides.ToArray();
                strides[a.Axis] = v.Strides[a.Axis] * a.Step;
                return v with { Offset = v.Offset + (a.Start * v.Strides[a.Axis]), Shape = [.. node.Shape], Strides = strides };
            }

            case Op.Flip:
            {
                var strides = v.Strides.ToArray();
                var offset = v.Offset;
                foreach (int ax in node.Attr<AxesAttrs>().Axes)
                {
                    offset += (v.Shape[ax] - 1) * v.Strides[ax];
                    strides[ax] = -v.Strides[ax];
                }

                return v with { Offset = offset, Strides = strides };
            }

            default:
                throw new NotSupportedException($"{node.Op.Name()} is not a view");
        }
    }

    /// <summary>
    /// Strides that view <paramref name="v"/> with <paramref name="shape"/> without copying, or null when the
    /// reshape needs a copy: each run of dims the view walks contiguously must be split or merged into whole new
    /// dims (size-1 dims aside).
    /// </summary>
    private static Dim[]? ReshapedStrides(TensorView v, IReadOnlyList<Dim> shape)
    {
        if (v.IsContiguous) return TensorView.ContiguousStrides(shape);
        if (v.Shape.Concat(shape).Any(d => d == Dim.Zero)) return null;
        var chunks = new List<(Dim Numel, Dim Inner)>();
        for (int d = 0; d < v.Rank; d++)
        {
            if (v.Shape[d] == Dim.One) continue;
            if (chunks.Count > 0 && chunks[^1].Inner == v.Strides[d] * v.Shape[d])
            {
                chunks[^1] = (chunks[^1].Numel * v.Shape[d], v.Strides[d]);
            }
            else
            {
                chunks.Add((v.Shape[d], v.Strides[d]));
            }
        }

        var strides = new Dim[shape.Count];
        int next = 0;
        foreach (var (numel, inner) in chunks)
        {
            var dims = new List<int>();
            var product = Dim.One;
            while (product != numel)
            {
                while (next < shape.Count && shape[next] == Dim.One) next++;
                if (next == shape.Count) return null;
                if (product.TryGetConstant() is long p && numel.TryGetConstant() is long q && p > q) return null;
                product *= shape[next];
                dims.Add(next++);
            }

            var stride = inner;
            for (int i = dims.Count - 1; i >= 0; i--)
            {
                strides[dims[i]] = stride;
                stride *= shape[dims[i]];
            }
        }

        for (; next < shape.Count; next++)
        {
            if (shape[next] != Dim.One) return null;
        }

        for (int d = shape.Count - 1; d >= 0; d--)
        {
            if (shape[d] == Dim.One) strides[d] = d + 1 < shape.Count ? strides[d + 1] * shape[d + 1] : Dim.One;
        }

        return strides;
    }

    /// <summary>
    /// The buffer scatter_add <paramref name="node"/> writes: its base <paramref name="x"/>'s own buffer when nothing else
    /// reads it (a dense arena intermediate whose every read still to come is this scatter's, as the scheduler counts
    /// them for graph nodes: <see cref="ReadsLast"/>), so the scatter adds
    /// into it instead of copying it first (the cross-entropy gradient over tokens × vocabulary); otherwise a new one.
    /// </summary>
    private TensorView ScatterTarget(Node node, TensorView x)
    {
        var b = node.Inputs[0];
        bool alone = !x.IsConstant && !x.IsDeferredCast && x.IsDense && x.DType == node.DType
            && !b.Op.IsView() && b.Op is not (Op.Input or Op.Constant or Op.Full)
            && _kg.KindOf(x.Slot) == Runtime.Plans.BufferKind.Arena
            && _graphNodes.Contains(node) && ReadsLast(node, x.Slot)
            && _kg.BytesOf(x.Slot) == node.Shape.Numel * node.DType.SizeInBytes();
        return alone ? x : NewOutput(node);
    }

    private TensorView NewOutput(Node node) => TensorView.Dense(_kg.AddArena(node.DType, node.Shape), node.DType, node.Shape);

    private TensorView ScheduleLibraryOp(Node node, TensorView[] ins)
    {
        string label = node.Op.Name();
        switch (node.Op)
        {
            case Op.Arange:
            {
                var a = node.Attr<ArangeAttrs>();
                var y = NewOutput(node);
                _kg.Add(new ArangeCall(y.Slot, node.DType, a.Length, a.Start, a.Step, label));
                return y;
            }

            case Op.RandomUniform:
            {
                var seed = Dense(ins[0], label);
                var y = NewOutput(node);
                _kg.Add(new RandomUniformCall(y.Slot, seed.Slot, node.Attr<RandomUniformAttrs>().Stream, node.Shape.Numel, label));
                return y;
            }

            case var op when op.IsReduce():
            {
                if (TryScheduleSingleReduction(node, ins[0]) is { } generated) return generated;
                var v = ins[0];
                var axes = node.Attr<ReduceAttrs>().Axes.ToHashSet();
                var kept = Enumerable.Range(0, v.Rank).Where(i => !axes.Contains(i)).ToList();
                var red = Enumerable.Range(0, v.Rank).Where(axes.Contains).ToList();
                if (_columnReductions && node.Op is Op.Sum or Op.Mean && kept.Count > 0 && red.Count > 0 && red[^1] == red.Count - 1
                    && v.DType is DType.F32 or DType.F16 or DType.BF16 && node.DType is DType.F32 or DType.F16 or DType.BF16)
                {
                    // Leading dims reduced: the rows of the operand as it lies are the reduced positions.
                    var dense = Dense(v, label);
                    var sums = NewOutput(node);
                    _kg.Add(new ColumnReduceCall(node.Op, dense.Slot, dense.DType, sums.Slot, node.DType, Prod(red.Select(i => v.Shape[i])), Prod(kept.Select(i => v.Shape[i])), label));
                    return sums;
                }

                var x = Dense(Permute(v, [.. kept, .. red]), label);
                var rowLen = Prod(red.Select(i => v.Shape[i]));
                var rows = Prod(kept.Select(i => v.Shape[i]));
                var y = NewOutput(node);
                _kg.Add(new ReduceCall(node.Op, x.Slot, x.DType, y.Slot, node.DType, rows, rowLen, label));
                return y;
            }

            case Op.CumSum or Op.Softmax or Op.LogSoftmax:
            {
                var v = ins[0];
                int axis = node.Attr<AxisAttrs>().Axis;
                var perm = Enumerable.Range(0, v.Rank).Where(i => i != axis).Append(axis).ToArray();
                var x = Dense(Permute(v, perm), label);
                int slot = _kg.AddArena(node.DType, x.Shape);
                var rowLen = v.Shape[axis];
                var rows = Prod(x.Shape.Take(x.Rank - 1));
                _kg.Add(new RowCall(node.Op, x.Slot, x.DType, slot, node.DType, rows, rowLen, label));

                var inverse = new int[perm.Length];
                for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
                return Permute(TensorView.Dense(slot, node.DType, x.Shape) with { DType = node.DType }, inverse);
            }

            case Op.MatMul:
                return ScheduleMatMul(node, ins, null, out _);

            case Op.LayerNorm or Op.RmsNorm:
            {
                var a = node.Attr<NormAttrs>();
                var x = Dense(ins[0], label);
                int k = node.Op == Op.RmsNorm ? 1 : a.NormalizedDims;
                var rowLen = Prod(x.Shape.Skip(x.Rank - k));
                var rows = Prod(x.Shape.Take(x.Rank - k));
                int w = a.HasWeight ? Dense(ins[1], label).Slot : -1;
                int b = a.HasBias ? Dense(ins[a.HasWeight ? 2 : 1], label).Slot : -1;
                var y = NewOutput(node);
                _kg.Add(new NormCall(node.Op, x.Slot, w, b, y.Slot, node.DType, rows, rowLen, a.Eps, label));

                return y;
            }

            case Op.GroupNorm:
            {
                var a = node.Attr<NormAttrs>();
                var x = Dense(ins[0], label);
                int w = a.HasWeight ? Dense(ins[1], label).Slot : -1;
                int b = a.HasBias ? Dense(ins[a.HasWeight ? 2 : 1], label).Slot : -1;
                var y = NewOutput(node);
                var c = x.Shape[1];
                var sp = Prod(x.Shape.Skip(2));
                _kg.Add(new GroupNormCall(x.Slot, w, b, y.Slot, node.DType, x.Shape[0], c, sp, a.Groups, a.Eps, label));
                return y;
            }

            case Op.Rope:
            {
                TensorView Operand(TensorView t) => _stridedOperands && !t.IsConstant ? t : Dense(t, label);
                var x = Operand(ins[0]);
                var cos = Operand(ins[1]);
                var sin = Operand(ins[2]);
                var y = NewOutput(node);
                var d = x.Shape[^1];
                _kg.Add(new RopeCall(x, cos, sin, y.Slot, node.DType, Prod(x.Shape.Take(x.Rank - 1)), d, node.Attr<RopeAttrs>().Interleaved, label));
                return y;
            }

            case Op.Attention:
                return ScheduleAttention(node, ins);

            case Op.Conv or Op.ConvTranspose:
            {
                var a = ConvAttrsOf(node, node.Inputs[0]);
                var x = Dense(ins[0], label);
                var w = Dense(ins[1], label);
                int bias = a.HasBias ? Dense(ins[2], label).Slot : -1;
                var y = NewOutput(node);
                _kg.Add(new ConvCall(node.Op, x, w, bias, y.Slot, node.DType, [.. node.Shape], a, label));
                return y;
            }

            case Op.MaxPool or Op.AvgPool:
            {
                var a = PoolAttrsOf(node);
                var x = Dense(ins[0], label);
                var y = NewOutput(node);
                _kg.Add(new PoolCall(node.Op, x, y.Slot, node.DType, [.. node.Shape], a, label));
                return y;
            }

            case Op.UpsampleNearest:
            {
                var v = ins[0];
                var scale = node.Attr<UpsampleAttrs>().Scale;
                var shape = new List<Dim> { v.Shape[0], v.Shape[1] };
                var strides = new List<Dim> { v.Strides[0], v.Strides[1] };
                for (int i = 0; i < scale.Count; i++)
                {
                    shape.Add(v.Shape[2 + i]);
                    shape.Add(scale[i]);
                    strides.Add(v.Strides[2 + i]);
                    strides.Add(Dim.Zero);
                }

                var dense = Dense(v with { Shape = [.. shape], Strides = [.. strides] }, label);
                return TensorView.Dense(dense.Slot, node.DType, node.Shape);
            }

            case Op.Pad:
            {
                // Read only by convolutions or max pools that take its padding as their own: the unpadded input stands for it.
                if (_padsIntoConv.Contains(node) || _padsIntoPool.Contains(node)) return ins[0];
                var a = node.Attr<PadAttrs>();
                var y = NewOutput(node);
                Fill(y, a.Value, label);
                var offset = Dim.Zero;
                for (int d = 0; d < y.Rank; d++) offset += y.Strides[d] * a.Before[d];
                if (!ins[0].Numel.Equals(Dim.Zero)) Copy(ins[0], y with { Offset = offset, Shape = ins[0].Shape }, label);
                return y;
            }

            case Op.Concat:
            {
                int axis = node.Attr<AxisAttrs>().Axis;
                var y = NewOutput(node);
                var at = Dim.Zero;
                foreach (var v in ins)
                {
                    Copy(v, y with { Offset = at * y.Strides[axis], Shape = v.Shape }, label);
                    at += v.Shape[axis];
                }

                return y;
            }

            case Op.IndexSelect:
            {
                int axis = node.Attr<AxisAttrs>().Axis;
                var x = Dense(ins[0], label);
                var idx = Dense(ins[1], label);
                var y = NewOutput(node);
                var outer = Prod(x.Shape.Take(axis));
                var inner = Prod(x.Shape.Skip(axis + 1));
                _kg.Add(new IndexSelectCall(x, idx, y.Slot, outer, x.Shape[axis], inner, label));
                return y;
            }

            case Op.Gather:
            {
                int axis = node.Attr<AxisAttrs>().Axis;
                var x = Dense(ins[0], label);
                var idx = Dense(ins[1], label);
                var y = NewOutput(node);
                _kg.Add(new GatherCall(x, idx, y.Slot, axis, label));
                return y;
            }

            case Op.SliceScatter:
                return ScheduleSliceScatter(node, ins);

            case Op.ScatterAdd:
            {
                int axis = node.Attr<AxisAttrs>().Axis;
                var x = Dense(ins[0], label);
                var idx = Dense(ins[1], label);
                var src = Dense(ins[2], label);
                var y = ScatterTarget(node, x);
                _kg.Add(new ScatterAddCall(x, idx, src, y.Slot, axis, label));
                return y;
            }

            default:
                throw new NotSupportedException($"the cpu backend has no kernel for {node.Op.Name()}");
        }
    }
}
