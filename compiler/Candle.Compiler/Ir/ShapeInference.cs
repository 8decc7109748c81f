using System.Collections.Immutable;
using Candle.Runtime;

namespace Candle.Compiler.Ir;

/// <summary>
/// The typing rules of the IR: for an op, its inputs and attributes, the result dtype and shape, or an
/// <see cref="IrException"/> that names the op, the operand types and the problem. The IR is strict:
/// elementwise operands already share shape and dtype (the <see cref="IrBuilder"/> inserts casts and
/// expands, PyTorch style); the verifier re-runs these rules on every node.
/// </summary>
public static class ShapeInference
{
    /// <summary>Infers the result type of a node.</summary>
    public static (DType DType, Shape Shape) Infer(Op op, ImmutableArray<Node> inputs, OpAttrs? attrs)
    {
        IrException Fail(string problem) => IrException.For(op, inputs, problem);

        T A<T>()
            where T : OpAttrs => attrs as T ?? throw Fail($"expects {typeof(T).Name}, got {attrs?.GetType().Name ?? "none"}");

        void Arity(int min, int max = -1)
        {
            if (inputs.Length < min || inputs.Length > (max < 0 ? min : max))
            {
                throw Fail($"expects {(max < 0 || max == min ? min.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{min} to {max}")} inputs, got {inputs.Length}");
            }
        }

        switch (op)
        {
            case Op.Input:
            {
                Arity(0);
                var a = A<InputAttrs>();
                return (a.DType, a.Shape);
            }

            case Op.Constant:
            {
                Arity(0);
                var a = A<ConstantAttrs>();
                return (a.Data.DType, Shape.Of(a.Data.Shape));
            }

            case Op.QuantConstant:
            {
                Arity(0);
                var q = A<QuantConstantAttrs>().Data;
                return (DType.F32, Shape.Of(q.Rows, q.Cols));
            }

            case Op.QuantMatMul:
            {
                Arity(2);
                var (x, w) = (inputs[0], inputs[1]);
                if (w.Op != Op.QuantConstant) throw Fail($"the weight must be a quantized constant, not {w.Op.Name()}");
                var q = w.Attr<QuantConstantAttrs>().Data;
                if (x.DType != DType.F32) throw Fail($"activations of '{q.Name}' must be float32, not {x.DType.TorchName()}");
                if (x.Shape.Rank < 1 || x.Shape[^1] != Dim.Of(q.Cols))
                {
                    throw Fail($"activations {x.Shape} do not end in the {q.Cols} columns of '{q.Name}'");
                }

                return (DType.F32, new Shape([.. x.Shape.Take(x.Shape.Rank - 1), Dim.Of(q.Rows)]));
            }

            case Op.QuantEmbedding:
            {
                Arity(2);
                var (w, ids) = (inputs[0], inputs[1]);
                if (w.Op != Op.QuantConstant) throw Fail($"the table must be a quantized constant, not {w.Op.Name()}");
                RequireIndex(ids, Fail);
                var q = w.Attr<QuantConstantAttrs>().Data;
                return (DType.F32, new Shape([.. ids.Shape, Dim.Of(q.Cols)]));
            }

            case Op.Full:
            {
                Arity(0);
                var a = A<FullAttrs>();
                return (a.DType, a.Shape);
            }

            case Op.Arange:
            {
                Arity(0);
                var a = A<ArangeAttrs>();
                return (a.DType, new Shape(a.Length));
            }

            case Op.RandomUniform:
            {
                Arity(1);
                var seed = inputs[0];
                if (seed.DType != DType.I64 || seed.Shape.Rank != 0) throw Fail($"the seed must be an int64 scalar, got {seed.TypeString}");
                return (DType.F32, A<RandomUniformAttrs>().Shape);
            }

            case var _ when op.IsUnary():
            {
                Arity(1);
                var x = inputs[0];
                switch (op.UnaryRule())
                {
                    case UnaryTyping.Cast:
                        return (A<CastAttrs>().DType, x.Shape);
                    case UnaryTyping.Logical:
                        RequireDType(x, DType.Bool, Fail);
                        return (DType.Bool, x.Shape);
                    case UnaryTyping.Float when !x.DType.IsFloat():
                        throw Fail($"needs a floating-point input, got {x.DType.TorchName()}");
                    case UnaryTyping.Numeric or UnaryTyping.Rounding when x.DType == DType.Bool:
                        throw Fail("is not defined for bool tensors");
                }

                return (x.DType, x.Shape);
            }

            case var _ when op.IsBinary():
            {
                Arity(2);
                SameShape(inputs[0], inputs[1], Fail);
                if (inputs[0].DType != inputs[1].DType)
                {
                    throw Fail("operands must share a dtype (IrBuilder inserts the casts)");
                }

                switch (op.BinaryRule())
                {
                    case BinaryTyping.Logical:
                        RequireDType(inputs[0], DType.Bool, Fail);
                        return (DType.Bool, inputs[0].Shape);
                    case BinaryTyping.Comparison:
                        return (DType.Bool, inputs[0].Shape);
                    case BinaryTyping.Arithmetic or BinaryTyping.TrueDivision when inputs[0].DType == DType.Bool:
                        throw Fail("is not defined for bool tensors");
                    case BinaryTyping.TrueDivision when !inputs[0].DType.IsFloat():
                        throw Fail("true division needs floating-point operands (IrBuilder casts integers)");
                }

                return (inputs[0].DType, inputs[0].Shape);
            }

            case Op.Where:
                Arity(3);
                RequireDType(inputs[0], DType.Bool, Fail);
                SameShape(inputs[0], inputs[1], Fail);
                SameShape(inputs[1], inputs[2], Fail);
                if (inputs[1].DType != inputs[2].DType)
                {
                    throw Fail("both branches must share a dtype");
                }

                return (inputs[1].DType, inputs[1].Shape);

            case var _ when op.IsReduce():
            {
                Arity(1);
                var a = A<ReduceAttrs>();
                var x = inputs[0];
                var axes = CheckAxes(a.Axes, x.Shape.Rank, Fail);
                if (op is Op.ArgMax or Op.ArgMin && axes.Count != 1)
                {
                    throw Fail("reduces exactly one axis");
                }

                if (op == Op.Mean && !x.DType.IsFloat())
                {
                    throw Fail($"needs a floating-point input, got {x.DType.TorchName()}");
                }

                foreach (int ax in axes)
                {
                    if (op is Op.Max or Op.Min or Op.ArgMax or Op.ArgMin && x.Shape[ax] == Dim.Zero)
                    {
                        throw Fail($"cannot reduce the empty axis {ax}");
                    }
                }

                var dims = new List<Dim>();
                for (int i = 0; i < x.Shape.Rank; i++)
                {
                    if (axes.Contains(i))
                    {
                        if (a.KeepDim) dims.Add(Dim.One);
                    }
                    else
                    {
                        dims.Add(x.Shape[i]);
                    }
                }

                DType dt = op switch
                {
                    Op.ArgMax or Op.ArgMin => DType.I64,
                    Op.Sum or Op.Prod when !x.DType.IsFloat() => DType.I64,
                    _ => x.DType,
                };
                return (dt, new Shape(dims));
            }

            case Op.CumSum:
            {
                Arity(1);
                CheckAxis(A<AxisAttrs>().Axis, inputs[0].Shape.Rank, Fail);
                return (inputs[0].DType.IsFloat() ? inputs[0].DType : DType.I64, inputs[0].Shape);
            }

            case Op.MatMul:
            {
                Arity(2);
                var (a, b) = (inputs[0], inputs[1]);
                if (a.DType != b.DType) throw Fail("operands must share a dtype");
                if (a.DType == DType.Bool) throw Fail("is not defined for bool tensors");
                if (a.Shape.Rank < 2 || a.Shape.Rank != b.Shape.Rank)
                {
                    throw Fail("operands must have equal rank ≥ 2 (IrBuilder handles vectors and batch broadcasting)");
                }

                int r = a.Shape.Rank;
                for (int i = 0; i < r - 2; i++)
                {
                    if (a.Shape[i] != b.Shape[i]) throw Fail($"batch dimension {i} differs: {a.Shape[i]} vs {b.Shape[i]}");
                }

                if (a.Shape[r - 1] != b.Shape[r - 2])
                {
                    throw Fail($"inner dimensions differ: {a.Shape[r - 1]} vs {b.Shape[r - 2]}");
                }

                return (a.DType, a.Shape.With(r - 1, b.Shape[r - 1]));
            }

            case Op.Reshape:
            {
                Arity(1);
                var s = A<ShapeAttrs>().Shape;
                if (s.Numel != inputs[0].Shape.Numel)
                {
                    throw Fail($"cannot reshape {inputs[0].Shape.Numel} elements into {s} ({s.Numel} elements)");
                }

                return (inputs[0].DType, s);
            }

            case Op.Permute:
            {
                Arity(1);
                var p = A<PermuteAttrs>().Perm;
                var x = inputs[0];
                if (p.Count != x.Shape.Rank || !p.OrderBy(i => i).SequenceEqual(Enumerable.Range(0, p.Count)))
                {
                    throw Fail($"permutation {p} is not a permutation of {x.Shape.Rank} axes");
                }

                return (x.DType, new Shape(p.Select(i => x.Shape[i])));
            }

            case Op.Expand:
            {
                Arity(1);
                var s = A<ShapeAttrs>().Shape;
                var x = inputs[0];
                if (s.Rank != x.Shape.Rank) throw Fail($"target {s} must have the input's rank");
                for (int i = 0; i < s.Rank; i++)
                {
                    if (x.Shape[i] != s[i] && x.Shape[i] != Dim.One)
                    {
                        throw Fail($"cannot expand dimension {i} of size {x.Shape[i]} to {s[i]}");
                    }
                }

                return (x.DType, s);
            }

            case Op.Slice:
            {
                Arity(1);
                var a = A<SliceAttrs>();
                var x = inputs[0];
                CheckAxis(a.Axis, x.Shape.Rank, Fail);
                if (a.Step < 1) throw Fail($"step must be ≥ 1, got {a.Step}");
                var dim = x.Shape[a.Axis];
                if (a.Start.TryGetConstant() is long s0 && a.End.TryGetConstant() is long e0)
                {
                    if (s0 < 0 || s0 > e0) throw Fail($"slice [{s0}:{e0}] is out of order");
                    if (dim.TryGetConstant() is long d0 && e0 > d0) throw Fail($"slice end {e0} is beyond dimension {a.Axis} of size {d0}");
                }

                var len = (a.End - a.Start + (a.Step - 1)) / a.Step;
                return (x.DType, x.Shape.With(a.Axis, len));
            }

            case Op.Concat:
            {
                if (inputs.Length < 1) throw Fail("needs at least one input");
                int axis = A<AxisAttrs>().Axis;
                var first = inputs[0];
                CheckAxis(axis, first.Shape.Rank, Fail);
                Dim total = Dim.Zero;
                foreach (var x in inputs)
                {
                    if (x.DType != first.DType) throw Fail("inputs must share a dtype");
                    if (x.Shape.Rank != first.Shape.Rank) throw Fail("inputs must share a rank");
                    for (int i = 0; i < x.Shape.Rank; i++)
                    {
                        if (i != axis && x.Shape[i] != first.Shape[i]) throw Fail($"dimension {i} differs: {x.Shape[i]} vs {first.Shape[i]}");
                    }

                    total += x.Shape[axis];
                }

                return (first.DType, first.Shape.With(axis, total));
            }

            case Op.Pad:
            {
                Arity(1);
                var a = A<PadAttrs>();
                var x = inputs[0];
                if (a.Before.Count != x.Shape.Rank || a.After.Count != x.Shape.Rank) throw Fail("needs padding for every axis");
                if (a.Before.Any(p => p < 0) || a.After.Any(p => p < 0)) throw Fail("padding must be non-negative");
                return (x.DType, new Shape(x.Shape.Select((d, i) => d + a.Before[i] + a.After[i])));
            }

            case Op.Flip:
                Arity(1);
                CheckAxes(A<AxesAttrs>().Axes, inputs[0].Shape.Rank, Fail);
                return (inputs[0].DType, inputs[0].Shape);

            case Op.IndexSelect:
            {
                Arity(2);
                int axis = A<AxisAttrs>().Axis;
                var (x, idx) = (inputs[0], inputs[1]);
                CheckAxis(axis, x.Shape.Rank, Fail);
                RequireIndex(idx, Fail);
                var dims = x.Shape.Take(axis).Concat(idx.Shape).Concat(x.Shape.Skip(axis + 1));
                return (x.DType, new Shape(dims));
            }

            case Op.Gather:
            {
                Arity(2);
                int axis = A<AxisAttrs>().Axis;
                var (x, idx) = (inputs[0], inputs[1]);
                CheckAxis(axis, x.Shape.Rank, Fail);
                RequireIndex(idx, Fail);
                if (idx.Shape.Rank != x.Shape.Rank) throw Fail("index must have the input's rank");
                return (x.DType, idx.Shape);
            }

            case Op.SliceScatter:
            {
                Arity(2);
                var a = A<SliceAttrs>();
                var (x, src) = (inputs[0], inputs[1]);
                CheckAxis(a.Axis, x.Shape.Rank, Fail);
                if (a.Step < 1) throw Fail($"step must be ≥ 1, got {a.Step}");
                if (src.DType != x.DType) throw Fail("source must have the input's dtype");
                var len = (a.End - a.Start + (a.Step - 1)) / a.Step;
                if (!src.Shape.Equals(x.Shape.With(a.Axis, len)))
                {
                    throw Fail($"source must have shape {x.Shape.With(a.Axis, len)} (the slice [{a.Start}:{a.End}:{a.Step}] of dimension {a.Axis}), got {src.Shape}");
                }

                if (a.Start.TryGetConstant() is long s0 && a.End.TryGetConstant() is long e0)
                {
                    if (s0 < 0 || s0 > e0) throw Fail($"slice [{s0}:{e0}] is out of order");
                    if (x.Shape[a.Axis].TryGetConstant() is long d0 && e0 > d0) throw Fail($"slice end {e0} is beyond dimension {a.Axis} of size {d0}");
                }

                return (x.DType, x.Shape);
            }

            case Op.ScatterAdd:
            {
                Arity(3);
                int axis = A<AxisAttrs>().Axis;
                var (x, idx, src) = (inputs[0], inputs[1], inputs[2]);
                CheckAxis(axis, x.Shape.Rank, Fail);
                RequireIndex(idx, Fail);
                if (src.DType != x.DType) throw Fail("source must have the input's dtype");
                if (idx.Shape.Rank != x.Shape.Rank || src.Shape.Rank != x.Shape.Rank) throw Fail("index and source must have the input's rank");
                return (x.DType, x.Shape);
            }

            case Op.Softmax or Op.LogSoftmax:
                Arity(1);
                RequireFloat(inputs[0], Fail);
                CheckAxis(A<AxisAttrs>().Axis, inputs[0].Shape.Rank, Fail);
                return (inputs[0].DType, inputs[0].Shape);

            case Op.Conv or Op.ConvTranspose:
                return InferConv(op, inputs, A<ConvAttrs>(), Fail);

            case Op.MaxPool or Op.AvgPool:
            {
                Arity(1);
                var a = A<PoolAttrs>();
                var x = inputs[0];
                int sp = a.Kernel.Count;
                if (sp < 1 || x.Shape.Rank != sp + 2 || a.Stride.Count != sp || a.Padding.Count != sp) throw Fail($"expects an input of rank {sp + 2} and parameters for {sp} spatial dims");
                var dims = x.Shape.Take(2).ToList();
                for (int i = 0; i < sp; i++)
                {
                    if (a.Padding[i] * 2 > a.Kernel[i]) throw Fail("padding must be at most half the kernel size");
                    var len = ((x.Shape[2 + i] + (2 * a.Padding[i]) - a.Kernel[i]) / a.Stride[i]) + 1;
                    dims.Add(len);
                }

                return (x.DType, new Shape(dims));
            }

            case Op.UpsampleNearest:
            {
                Arity(1);
                var a = A<UpsampleAttrs>();
                var x = inputs[0];
                if (x.Shape.Rank != a.Scale.Count + 2) throw Fail($"expects an input of rank {a.Scale.Count + 2}");
                return (x.DType, new Shape(x.Shape.Select((d, i) => i < 2 ? d : d * a.Scale[i - 2])));
            }

            case Op.LayerNorm or Op.RmsNorm or Op.GroupNorm:
            {
                var a = A<NormAttrs>();
                int expected = 1 + (a.HasWeight ? 1 : 0) + (a.HasBias ? 1 : 0);
                Arity(expected);
                var x = inputs[0];
                RequireFloat(x, Fail);
                Shape paramShape;
                if (op == Op.GroupNorm)
                {
                    if (x.Shape.Rank < 2) throw Fail("expects [N, C, ...]");
                    if (!x.Shape[1].IsDivisibleBy(a.Groups)) throw Fail($"channels {x.Shape[1]} are not divisible by {a.Groups} groups");
                    paramShape = new Shape(x.Shape[1]);
                }
                else
                {
                    int k = op == Op.RmsNorm ? 1 : a.NormalizedDims;
                    if (k < 1 || k > x.Shape.Rank) throw Fail($"cannot normalize the last {k} dims");
                    paramShape = new Shape(x.Shape.Skip(x.Shape.Rank - k));
                }

                for (int i = 1; i < inputs.Length; i++)
                {
                    if (!inputs[i].Shape.Equals(paramShape)) throw Fail($"weight/bias must have shape {paramShape}");
                    if (inputs[i].DType != x.DType) throw Fail("weight/bias must have the input's dtype");
                }

                return (x.DType, x.Shape);
            }

            case Op.Rope:
            {
                Arity(3);
                A<RopeAttrs>();
                var (x, cos, sin) = (inputs[0], inputs[1], inputs[2]);
                RequireFloat(x, Fail);
                var d = x.Shape[^1];
                if (!d.IsDivisibleBy(2)) throw Fail($"last dimension {d} must be even");
                var half = x.Shape.With(x.Shape.Rank - 1, d / 2);
                if (!cos.Shape.Equals(half) || !sin.Shape.Equals(half)) throw Fail($"cos and sin must have shape {half} (IrBuilder expands them)");
                if (cos.DType != x.DType || sin.DType != x.DType) throw Fail("cos and sin must have the input's dtype");
                return (x.DType, x.Shape);
            }

            case Op.Attention:
            {
                var a = A<AttentionAttrs>();
                Arity(a.HasMask ? 4 : 3);
                var (q, k, v) = (inputs[0], inputs[1], inputs[2]);
                if (q.Shape.Rank != 4 || k.Shape.Rank != 4 || v.Shape.Rank != 4) throw Fail("expects q, k, v of rank 4 [batch, heads, seq, head_dim]");
                RequireFloat(q, Fail);
                if (k.DType != q.DType || v.DType != q.DType) throw Fail("q, k and v must share a dtype");
                if (k.Shape[0] != q.Shape[0] || v.Shape[0] != q.Shape[0]) throw Fail("batch sizes differ");
                if (k.Shape[1] != v.Shape[1]) throw Fail("k and v must have the same number of heads");
                if (k.Shape[1].TryGetConstant() is long hk && q.Shape[1].TryGetConstant() is long hq && (hk == 0 || hq % hk != 0))
                {
                    throw Fail($"query heads {hq} are not a multiple of key/value heads {hk}");
                }

                if (k.Shape[3] != q.Shape[3]) throw Fail($"q and k head dims differ: {q.Shape[3]} vs {k.Shape[3]}");
                if (k.Shape[2] != v.Shape[2]) throw Fail("k and v sequence lengths differ");
                if (a.HasMask)
                {
                    var m = inputs[3];
                    var want = new Shape(q.Shape[0], q.Shape[1], q.Shape[2], k.Shape[2]);
                    if (!m.Shape.Equals(want)) throw Fail($"mask must have shape {want} (IrBuilder expands it)");
                    if (m.DType != DType.Bool && m.DType != q.DType) throw Fail("mask must be bool or the query dtype");
                }

                return (q.DType, q.Shape.With(3, v.Shape[3]));
            }

            case Op.Fused:
            {
                var a = A<FusedAttrs>();
                var body = a.Body;
                if (body.Inputs.Length != inputs.Length) throw Fail($"body has {body.Inputs.Length} inputs but the node has {inputs.Length}");
                for (int i = 0; i < inputs.Length; i++)
                {
                    if (body.Inputs[i].DType != inputs[i].DType || !body.Inputs[i].Shape.Equals(inputs[i].Shape))
                    {
                        throw Fail($"input {i} is {inputs[i].TypeString} but the body expects {body.Inputs[i].TypeString}");
                    }
                }

                if (a.Output < 0 || a.Output >= body.Outputs.Length) throw Fail($"output {a.Output} is not one of the body's {body.Outputs.Length}");
                return (body.Outputs[a.Output].DType, body.Outputs[a.Output].Shape);
            }

            default:
                throw Fail("has no typing rule");
        }
    }

    private static (DType, Shape) InferConv(Op op, ImmutableArray<Node> inputs, ConvAttrs a, Func<string, IrException> fail)
    {
        if (inputs.Length != (a.HasBias ? 3 : 2)) throw fail($"expects {(a.HasBias ? 3 : 2)} inputs");
        var (x, w) = (inputs[0], inputs[1]);
        RequireFloat(x, fail);
        int sp = a.Stride.Count;
        if (sp < 1 || x.Shape.Rank != sp + 2 || w.Shape.Rank != sp + 2) throw fail($"expects input and weight of rank {sp + 2}");
        if (a.Padding.Count != sp || a.Dilation.Count != sp) throw fail("needs stride, padding and dilation for every spatial dim");
        if (w.DType != x.DType) throw fail("weight must have the input's dtype");
        if (a.Groups < 1) throw fail("groups must be ≥ 1");
        Dim outChannels;
        if (op == Op.Conv)
        {
            if (x.Shape[1] != w.Shape[1] * a.Groups) throw fail($"input channels {x.Shape[1]} ≠ weight channels {w.Shape[1]} × groups {a.Groups}");
            if (!w.Shape[0].IsDivisibleBy(a.Groups)) throw fail("output channels must be divisible by groups");
            outChannels = w.Shape[0];
        }
        else
        {
            if (x.Shape[1] != w.Shape[0]) throw fail($"input channels {x.Shape[1]} ≠ weight dim 0 {w.Shape[0]}");
            if (!w.Shape[0].IsDivisibleBy(a.Groups)) throw fail("input channels must be divisible by groups");
            if (a.OutputPadding.Count != sp) throw fail("needs output padding for every spatial dim");
            outChannels = w.Shape[1] * a.Groups;
        }

        if (a.HasBias && !inputs[2].Shape.Equals(new Shape(outChannels))) throw fail($"bias must have shape [{outChannels}]");
        var dims = new List<Dim> { x.Shape[0], outChannels };
        for (int i = 0; i < sp; i++)
        {
            long k = w.Shape[2 + i].TryGetConstant() ?? throw fail("kernel size must be constant");
            var l = x.Shape[2 + i];
            Dim o = op == Op.Conv
                ? ((l + (2 * a.Padding[i]) - (a.Dilation[i] * (k - 1)) - 1) / a.Stride[i]) + 1
                : ((l - 1) * a.Stride[i]) - (2 * a.Padding[i]) + (a.Dilation[i] * (k - 1)) + a.OutputPadding[i] + 1;
            if (o.TryGetConstant() is long c && c < 0) throw fail($"spatial dim {i} would be negative ({c})");
            dims.Add(o);
        }

        return (x.DType, new Shape(dims));
    }

    private static void SameShape(Node a, Node b, Func<string, IrException> fail)
    {
        if (!a.Shape.Equals(b.Shape)) throw fail($"shapes {a.Shape} and {b.Shape} differ (IrBuilder broadcasts them)");
    }

    private static void RequireDType(Node n, DType dt, Func<string, IrException> fail)
    {
        if (n.DType != dt) throw fail($"needs a {dt.TorchName()} input, got {n.DType.TorchName()}");
    }

    private static void RequireFloat(Node n, Func<string, IrException> fail)
    {
        if (!n.DType.IsFloat()) throw fail($"needs a floating-point input, got {n.DType.TorchName()}");
    }

    private static void RequireIndex(Node n, Func<string, IrException> fail)
    {
        if (n.DType is not (DType.I64 or DType.I32)) throw fail($"index must be int64 or int32, got {n.DType.TorchName()}");
    }

    private static void CheckAxis(int axis, int rank, Func<string, IrException> fail)
    {
        if (axis < 0 || axis >= rank) throw fail($"axis {axis} is out of range for rank {rank}");
    }

    private static HashSet<int> CheckAxes(IntList axes, int rank, Func<string, IrException> fail)
    {
        var set = new HashSet<int>();
        foreach (int a in axes)
        {
            CheckAxis(a, rank, fail);
            if (!set.Add(a)) throw fail($"axis {a} is repeated");
        }

        return set;
    }
}
