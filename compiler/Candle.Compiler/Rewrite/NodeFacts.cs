using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Rewrite;

/// <summary>Small questions rules ask about nodes: uniform values, broadcasts, product factors.</summary>
public static class NodeFacts
{
    /// <summary>Constants with at most this many elements are inspected for a uniform value.</summary>
    public const int SmallConstantElements = 64;

    /// <summary>
    /// The value every element of <paramref name="node"/> holds when that is known at compile time: a
    /// <see cref="Op.Full"/>, a view of one, or a small constant whose elements are all equal.
    /// </summary>
    public static double? UniformValue(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        while (node.Op.IsView()) node = node.Inputs[0];
        if (node.Op == Op.Full) return node.Attr<FullAttrs>().Value;
        if (node.Op == Op.Constant && node.Attr<ConstantAttrs>().Data is { ElementCount: > 0 and <= SmallConstantElements } t)
        {
            double v = t.GetDouble(0);
            for (long i = 1; i < t.ElementCount; i++)
            {
                if (!t.GetDouble(i).Equals(v)) return null;
            }

            return v;
        }

        return null;
    }

    /// <summary>True when every element of <paramref name="node"/> is known to be <paramref name="value"/>.</summary>
    public static bool IsUniform(Node node, double value) => UniformValue(node) is { } v && v.Equals(value);

    /// <summary>
    /// True when every element is known to be within a relative <paramref name="tolerance"/> of <paramref name="value"/>
    /// (for literals such as 1/√2 written in lower precision).
    /// </summary>
    public static bool IsApproximately(Node node, double value, double tolerance = 1e-6) =>
        UniformValue(node) is { } v && Math.Abs(v - value) <= tolerance * Math.Max(1, Math.Abs(value));

    /// <summary>True for leaves whose value is known at compile time (constants, fills, ranges).</summary>
    public static bool IsConstantLeaf(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.Op is Op.Constant or Op.Full or Op.Arange;
    }

    /// <summary>A fill of <paramref name="value"/> with <paramref name="like"/>'s dtype and shape.</summary>
    public static Node FullLike(Node like, double value)
    {
        ArgumentNullException.ThrowIfNull(like);
        return IrBuilder.Full(value, like.DType, like.Shape);
    }

    /// <summary>
    /// Strips broadcasting views (expand, and reshapes that only insert or remove size-1 dims) from
    /// <paramref name="node"/> and returns the tensor being broadcast.
    /// </summary>
    public static Node StripBroadcast(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        while (node.Op == Op.Expand || (node.Op == Op.Reshape && OnlyUnitDimsChange(node.Inputs[0].Shape, node.Shape)))
        {
            node = node.Inputs[0];
        }

        return node;
    }

    /// <summary>
    /// When <paramref name="node"/> broadcasts a tensor of shape <paramref name="trailing"/> along its leading
    /// dims (numpy's right-aligned rule: expands of a tensor shaped [1, ..., 1, trailing...]), that tensor
    /// reshaped to <paramref name="trailing"/>; otherwise null.
    /// </summary>
    public static Node? BroadcastSource(Node node, Shape trailing)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(trailing);
        while (node.Op == Op.Expand) node = node.Inputs[0];
        int lead = node.Shape.Rank - trailing.Rank;
        if (lead < 0 || node.Shape.Take(lead).Any(d => d != Dim.One) || !new Shape(node.Shape.Skip(lead)).Equals(trailing)) return null;
        var src = StripBroadcast(node);
        return src.Shape.Numel == trailing.Numel && OnlyUnitDimsChange(src.Shape, trailing) ? IrBuilder.Reshape(src, trailing) : null;
    }

    /// <summary>True when the two shapes differ only by size-1 dims.</summary>
    public static bool OnlyUnitDimsChange(Shape a, Shape b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Where(d => d != Dim.One).SequenceEqual(b.Where(d => d != Dim.One));
    }

    /// <summary>The factors of a product tree (multiplications flattened, in left-to-right order).</summary>
    public static IReadOnlyList<Node> Factors(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var list = new List<Node>();
        void Walk(Node n)
        {
            if (n.Op == Op.Mul)
            {
                Walk(n.Inputs[0]);
                Walk(n.Inputs[1]);
            }
            else
            {
                list.Add(n);
            }
        }

        Walk(node);
        return list;
    }

    /// <summary>
    /// A product split into a compile-time coefficient and the remaining factors: multiplications are
    /// flattened, and factors or divisors whose value is uniform and known are folded into the coefficient.
    /// </summary>
    public static (double Coefficient, IReadOnlyList<Node> Factors) ProductTerms(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        double coef = 1;
        var list = new List<Node>();
        void Walk(Node n)
        {
            if (n.Op == Op.Mul)
            {
                Walk(n.Inputs[0]);
                Walk(n.Inputs[1]);
            }
            else if (n.Op == Op.Div && UniformValue(n.Inputs[1]) is { } d && d != 0)
            {
                coef /= d;
                Walk(n.Inputs[0]);
            }
            else if (UniformValue(n) is { } v)
            {
                coef *= v;
            }
            else
            {
                list.Add(n);
            }
        }

        Walk(node);
        return (coef, list);
    }

    /// <summary>
    /// When <paramref name="node"/> is a reduction <paramref name="op"/> of <paramref name="input"/> whose result
    /// has the input's rank (reduced axes kept as size 1, directly or through a reshape), the reduced axes; otherwise null.
    /// </summary>
    public static IntList? KeptReduceAxes(Node node, Op op, Node input)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(input);
        var r = node.Op == Op.Reshape ? node.Inputs[0] : node;
        if (r.Op != op || !ReferenceEquals(r.Inputs[0], input)) return null;
        var axes = r.Attr<ReduceAttrs>().Axes;
        var kept = new Shape(input.Shape.Select((d, i) => axes.Contains(i) ? Dim.One : d));
        return node.Shape.Equals(kept) ? axes : (IntList?)null;
    }

    /// <summary>True when <paramref name="axes"/> are exactly the last <c>axes.Count</c> axes of a rank-<paramref name="rank"/> tensor.</summary>
    public static bool AreTrailingAxes(IntList axes, int rank) =>
        axes.Count > 0 && axes.SequenceEqual(Enumerable.Range(rank - axes.Count, axes.Count));

    /// <summary>
    /// The tensor that <paramref name="node"/> expands to <paramref name="target"/> (the node itself when it is
    /// not an expand); null when <paramref name="node"/> does not have shape <paramref name="target"/>.
    /// </summary>
    public static Node? UnExpand(Node node, Shape target)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!node.Shape.Equals(target)) return null;
        return node.Op == Op.Expand ? node.Inputs[0] : node;
    }

    /// <summary>True when <paramref name="node"/> is x·x or x² for the given x (captured as <paramref name="x"/>).</summary>
    public static bool IsSquareOf(Node node, out Node x)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Op == Op.Mul && ReferenceEquals(node.Inputs[0], node.Inputs[1]))
        {
            x = node.Inputs[0];
            return true;
        }

        if (node.Op == Op.Pow && IsUniform(node.Inputs[1], 2))
        {
            x = node.Inputs[0];
            return true;
        }

        x = node;
        return false;
    }

    /// <summary>True when the dtype is a floating-point type.</summary>
    public static bool IsFloat(Node node) => node?.DType.IsFloat() ?? throw new ArgumentNullException(nameof(node));
}
