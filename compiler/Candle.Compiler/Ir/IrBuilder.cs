using System.Collections.Immutable;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Ir;

/// <summary>
/// Smart constructors with PyTorch's semantics on top of the strict IR: type promotion, broadcasting,
/// negative axes, integer true division, vector matmul. Frontends build graphs only through these.
/// Trivial identities fold before a node is allocated (cast to the same dtype, reshape to the same shape...).
/// </summary>
public static partial class IrBuilder
{
    /// <summary>A graph input.</summary>
    public static Node Input(string name, DType dtype, Shape shape) =>
        Node.Create(Op.Input, [], new InputAttrs(name, dtype, shape));

    /// <summary>
    /// A graph input whose buffer the caller hands over: a compiled plan may overwrite it, so that an output computed
    /// as a <see cref="SliceScatter"/> of it is written in place and returned as the input's own memory (a KV cache).
    /// The reference interpreter leaves it untouched; the values of the outputs are the same either way.
    /// </summary>
    public static Node DonatedInput(string name, DType dtype, Shape shape) =>
        Node.Create(Op.Input, [], new InputAttrs(name, dtype, shape, Donated: true));

    /// <summary>A constant holding <paramref name="data"/> (not copied); <paramref name="name"/> names a weight.</summary>
    public static Node Constant(HostTensor data, string? name = null) =>
        Node.Create(Op.Constant, [], new ConstantAttrs(data, name));

    /// <summary>A tensor of <paramref name="shape"/> filled with <paramref name="value"/>.</summary>
    public static Node Full(double value, DType dtype, Shape shape) =>
        Node.Create(Op.Full, [], new FullAttrs(value, dtype, shape));

    /// <summary>A scalar (shape []).</summary>
    public static Node Scalar(double value, DType dtype) => Full(value, dtype, Shape.Scalar);

    /// <summary>start, start+step, ... (<paramref name="length"/> values).</summary>
    public static Node Arange(Dim length, DType dtype = DType.I64, double start = 0, double step = 1) =>
        Node.Create(Op.Arange, [], new ArangeAttrs(start, step, length, dtype));

    /// <summary>
    /// Uniform float32 in [0, 1) of <paramref name="shape"/> from the int64 scalar <paramref name="seed"/> in stream
    /// <paramref name="stream"/> (<see cref="Op.RandomUniform"/>).
    /// </summary>
    public static Node RandomUniform(Node seed, Shape shape, long stream = 0)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(shape);
        return Node.Create(Op.RandomUniform, new RandomUniformAttrs(shape, stream), seed);
    }

    /// <summary>Converts to <paramref name="dtype"/>; identity when already of that dtype.</summary>
    public static Node Cast(Node x, DType dtype) => x.DType == dtype ? x : Node.Create(Op.Cast, new CastAttrs(dtype), x);

    /// <summary>A unary op; integer inputs of float-only ops are promoted to float32 as PyTorch does.</summary>
    public static Node Unary(Op op, Node x)
    {
        if (!op.IsUnary() || op.UnaryRule() == UnaryTyping.Cast) throw IrException.For(op, [x], "is not a unary op");
        switch (op.UnaryRule())
        {
            case UnaryTyping.Logical:
                return Node.Create(op, null, Cast(x, DType.Bool));
            case UnaryTyping.Float when !x.DType.IsFloat():
                x = Cast(x, DType.F32);
                break;
            case UnaryTyping.Rounding when !x.DType.IsFloat():
                return x;
        }

        return Node.Create(op, null, x);
    }

    /// <summary>
    /// A binary op with PyTorch promotion and broadcasting. Comparisons give bool; <see cref="Op.Div"/> of
    /// integers gives float32; logical ops cast to bool.
    /// </summary>
    public static Node Binary(Op op, Node a, Node b)
    {
        if (!op.IsBinary()) throw IrException.For(op, [a, b], "is not a binary op");
        var shape = BroadcastShapes(op, a, b);
        var typing = op.BinaryRule();
        DType dt = typing == BinaryTyping.Logical ? DType.Bool : DTypeExtensions.Promote(a.DType, b.DType);
        if (typing == BinaryTyping.TrueDivision && !dt.IsFloat()) dt = DType.F32;
        if (dt == DType.Bool && typing is BinaryTyping.Arithmetic)
        {
            throw IrException.For(op, [a, b], "is not defined for bool tensors");
        }

        a = BroadcastTo(Cast(a, dt), shape);
        b = BroadcastTo(Cast(b, dt), shape);
        return Node.Create(op, null, a, b);
    }

    /// <summary>A binary op with a scalar right operand of the tensor's dtype (a float scalar promotes integers to float32).</summary>
    public static Node Binary(Op op, Node a, double scalar)
    {
        bool integral = scalar == Math.Floor(scalar) && !double.IsInfinity(scalar);
        DType dt = a.DType switch
        {
            DType.Bool when op is Op.LogicalAnd or Op.LogicalOr or Op.Eq or Op.Ne && (scalar is 0 or 1) => DType.Bool,
            DType.Bool => integral ? DType.I64 : DType.F32,
            var d when !d.IsFloat() && !integral => DType.F32,
            var d => d,
        };
        return Binary(op, a, Scalar(scalar, dt));
    }

    /// <summary>cond ? a : b with broadcasting and promotion.</summary>
    public static Node Where(Node cond, Node a, Node b)
    {
        var shape = BroadcastShapes(Op.Where, a, b);
        shape = BroadcastShapes(Op.Where, cond, Full(0, DType.Bool, shape));
        var dt = DTypeExtensions.Promote(a.DType, b.DType);
        return Node.Create(Op.Where, null, BroadcastTo(Cast(cond, DType.Bool), shape), BroadcastTo(Cast(a, dt), shape), BroadcastTo(Cast(b, dt), shape));
    }

    /// <summary>The broadcast shape of two operands (numpy rules), or an error naming the op and shapes.</summary>
    public static Shape BroadcastShapes(Op op, Node a, Node b)
    {
        int r = Math.Max(a.Shape.Rank, b.Shape.Rank);
        var dims = new Dim[r];
        for (int i = 0; i < r; i++)
        {
            var da = i - (r - a.Shape.Rank) >= 0 ? a.Shape[i - (r - a.Shape.Rank)] : Dim.One;
            var db = i - (r - b.Shape.Rank) >= 0 ? b.Shape[i - (r - b.Shape.Rank)] : Dim.One;
            if (da == db || db == Dim.One) dims[i] = da;
            else if (da == Dim.One) dims[i] = db;
            else throw IrException.For(op, [a, b], $"shapes {a.Shape} and {b.Shape} cannot broadcast (dimension {i}: {da} vs {db})");
        }

        return new Shape(dims);
    }

    /// <summary>Broadcasts <paramref name="x"/> to <paramref name="shape"/> (prepending size-1 dims, then expanding).</summary>
    public static Node BroadcastTo(Node x, Shape shape)
    {
        if (x.Shape.Equals(shape)) return x;
        if (x.Shape.Rank > shape.Rank) throw IrException.For(Op.Expand, [x], $"cannot broadcast to the lower-rank shape {shape}");
        if (x.Op == Op.Full)
        {
            BroadcastShapes(Op.Expand, x, Full(0, x.DType, shape));
            var f = x.Attr<FullAttrs>();
            return Full(f.Value, f.DType, shape);
        }

        if (x.Shape.Rank < shape.Rank)
        {
            x = Reshape(x, new Shape(Enumerable.Repeat(Dim.One, shape.Rank - x.Shape.Rank).Concat(x.Shape)));
        }

        return x.Shape.Equals(shape) ? x : Node.Create(Op.Expand, new ShapeAttrs(shape), x);
    }

    /// <summary>A fused group over <paramref name="inputs"/> computing <paramref name="body"/>'s output <paramref name="output"/>.</summary>
    public static Node Fused(Graph body, string kind, IEnumerable<Node> inputs, int output = 0) =>
        Node.Create(Op.Fused, [.. inputs], new FusedAttrs(body, kind, output));

    private static ImmutableArray<Node> Arr(params Node[] n) => [.. n];
}
