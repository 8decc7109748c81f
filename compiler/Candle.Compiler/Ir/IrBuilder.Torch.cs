using Candle.Runtime;

namespace Candle.Compiler.Ir;

public static partial class IrBuilder
{
    /// <summary>
    /// A binary op with a scalar LEFT operand (<c>2 - x</c>): the scalar takes the tensor's dtype, as in
    /// <see cref="Binary(Op, Node, double)"/> (a non-integral scalar promotes integer tensors to float32).
    /// </summary>
    public static Node Binary(Op op, double scalar, Node b) => Binary(op, Scalar(scalar, ScalarOperandDType(op, b.DType, scalar)), b);

    /// <summary>
    /// Reshape to dims that may be symbolic, with at most one −1 entry. The −1 is inferred by cancelling the
    /// requested dims against the input's dims, so <c>[batch, seq, 256]</c> viewed as <c>[batch, seq, 4, -1]</c> gives 64.
    /// </summary>
    public static Node Reshape(Node x, IReadOnlyList<Dim> dims)
    {
        var minusOne = Dim.Of(-1);
        int infer = -1;
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] == minusOne)
            {
                if (infer >= 0) throw IrException.For(Op.Reshape, [x], "only one dimension can be -1");
                infer = i;
            }
            else if (dims[i].TryGetConstant() is long c && c < 0)
            {
                throw IrException.For(Op.Reshape, [x], $"invalid shape [{string.Join(", ", dims)}]");
            }
        }

        if (infer < 0) return Reshape(x, new Shape(dims));
        var remaining = x.Shape.ToList();
        long known = 1;
        for (int i = 0; i < dims.Count; i++)
        {
            if (i == infer) continue;
            if (dims[i].TryGetConstant() is long c)
            {
                known = checked(known * c);
                continue;
            }

            int at = remaining.FindIndex(d => d == dims[i]);
            if (at < 0)
            {
                throw IrException.For(Op.Reshape, [x], $"cannot infer the -1 of [{string.Join(", ", dims)}]: symbolic dimension {dims[i]} is not a dimension of the input");
            }

            remaining.RemoveAt(at);
        }

        var rest = remaining.Aggregate(Dim.One, (a, d) => a * d);
        if (known == 0 || !rest.IsDivisibleBy(known))
        {
            throw IrException.For(Op.Reshape, [x], $"cannot reshape {x.Shape.Numel} elements into [{string.Join(", ", dims)}]");
        }

        var result = dims.ToArray();
        result[infer] = rest / known;
        return Reshape(x, new Shape(result));
    }

    /// <summary>
    /// Python-style slice <c>x[start:end:step]</c> along <paramref name="axis"/>. Constant dimensions clamp as
    /// Python does; symbolic dimensions accept negative bounds (counted from the end, assumed in range).
    /// <see cref="long.MaxValue"/> as start means "the end of the axis" (an empty slice).
    /// </summary>
    public static Node SliceAxis(Node x, int axis, long? start, long? end, int step = 1)
    {
        int a = x.Shape.Axis(axis, "slice");
        if (step < 1) throw IrException.For(Op.Slice, [x], $"step must be ≥ 1, got {step}");
        var dim = x.Shape[a];
        if (dim.IsConstant) return Slice(x, a, start, end, step);
        Dim Bound(long v) => v == long.MaxValue ? dim : v < 0 ? dim + v : Dim.Of(v);
        var s = start is null ? Dim.Zero : Bound(start.Value);
        var e = end is null ? dim : Bound(end.Value);
        if (s == Dim.Zero && e == dim && step == 1) return x;
        return Node.Create(Op.Slice, new SliceAttrs(a, s, e, step), x);
    }

    /// <summary>
    /// <c>x[..., index, ...]</c>: the element at <paramref name="index"/> along <paramref name="axis"/>, removing the axis.
    /// Negative indices count from the end (also of symbolic dimensions).
    /// </summary>
    public static Node Select(Node x, int axis, long index)
    {
        int a = x.Shape.Axis(axis, "select");
        var dim = x.Shape[a];
        Dim start;
        if (dim.TryGetConstant() is long n)
        {
            long i = index < 0 ? index + n : index;
            if (i < 0 || i >= n)
            {
                throw IrException.For(Op.Slice, [x], $"select: index {index} is out of range for dimension {a} of size {n}");
            }

            start = Dim.Of(i);
        }
        else
        {
            start = index < 0 ? dim + index : Dim.Of(index);
        }

        var one = start == Dim.Zero && dim == Dim.One ? x : Node.Create(Op.Slice, new SliceAttrs(a, start, start + 1, 1), x);
        var dims = x.Shape.ToList();
        dims.RemoveAt(a);
        return Reshape(one, new Shape(dims));
    }

    private static DType ScalarOperandDType(Op op, DType tensor, double scalar)
    {
        bool integral = scalar == Math.Floor(scalar) && !double.IsInfinity(scalar);
        return tensor switch
        {
            DType.Bool when op is Op.LogicalAnd or Op.LogicalOr or Op.Eq or Op.Ne && (scalar is 0 or 1) => DType.Bool,
            DType.Bool => integral ? DType.I64 : DType.F32,
            var d when !d.IsFloat() && !integral => DType.F32,
            var d => d,
        };
    }
}
