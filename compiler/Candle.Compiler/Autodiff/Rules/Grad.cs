using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>Small graph-building helpers the rule tables share.</summary>
internal static class Grad
{
    public static Node Zeros(Node like) => Full(0, like.DType, like.Shape);

    public static Node Add(Node a, Node b) => Binary(Op.Add, a, b);

    public static Node Sub(Node a, Node b) => Binary(Op.Sub, a, b);

    public static Node Mul(Node a, Node b) => Binary(Op.Mul, a, b);

    public static Node Mul(Node a, double b) => Binary(Op.Mul, a, b);

    public static Node Div(Node a, Node b) => Binary(Op.Div, a, b);

    public static Node Neg(Node a) => Unary(Op.Neg, a);

    /// <summary>A bool mask as 0/1 of <paramref name="like"/>'s dtype.</summary>
    public static Node AsFloat(Node mask, Node like) => Cast(mask, like.DType);

    /// <summary>The shape <paramref name="x"/> has with <paramref name="axes"/> kept as size 1.</summary>
    public static Shape KeepShape(Shape x, IEnumerable<int> axes)
    {
        var set = axes.ToHashSet();
        return new Shape(x.Select((d, i) => set.Contains(i) ? Dim.One : d));
    }

    /// <summary>A reduction's gradient (or value) broadcast back over the reduced axes of <paramref name="x"/>.</summary>
    public static Node Unreduce(Node reduced, Node x, IReadOnlyList<int> axes) =>
        Expand(Reshape(reduced, KeepShape(x.Shape, axes)), x.Shape);

    /// <summary>Sums <paramref name="g"/> over the axes where <paramref name="shape"/> has size 1 and g does not (expand's adjoint).</summary>
    public static Node SumTo(Node g, Shape shape)
    {
        if (g.Shape.Equals(shape)) return g;
        int lead = g.Shape.Rank - shape.Rank;
        var axes = new List<int>();
        for (int i = 0; i < g.Shape.Rank; i++)
        {
            if (i < lead || (shape[i - lead] == Dim.One && g.Shape[i] != Dim.One)) axes.Add(i);
        }

        if (BatchSummedProduct(g, axes) is { } folded) return Reshape(folded, shape);
        var summed = axes.Count == 0 ? g : Reduce(Op.Sum, g, axes, keepDim: true);
        return Reshape(summed, shape);
    }

    /// <summary>
    /// Σ_b x_b·y_b of a batched product g = x·y ([..B, K, M]·[..B, M, N]) summed over exactly its batch axes, as one
    /// product with the batch folded into the inner dim: [K, B·M]·[B·M, N]. This is the weight gradient of a matmul
    /// whose 2-d weight was broadcast over the batch (every nn.Linear), which would otherwise be B products and a sum
    /// over a [B, K, N] tensor.
    /// </summary>
    private static Node? BatchSummedProduct(Node g, List<int> axes)
    {
        int r = g.Shape.Rank;
        if (g.Op != Op.MatMul || r < 3 || axes.Count != r - 2 || axes.Any(a => a >= r - 2)) return null;
        var (x, y) = (g.Inputs[0], g.Inputs[1]);
        if (x.Shape.Rank != r || y.Shape.Rank != r) return null;
        int batchRank = r - 2;
        var batch = Dim.One;
        for (int i = 0; i < batchRank; i++) batch *= g.Shape[i];
        var inner = x.Shape[r - 1];
        int[] perm = [batchRank, .. Enumerable.Range(0, batchRank), r - 1];
        var xf = Reshape(Permute(x, perm), [x.Shape[batchRank], batch * inner]);
        var yf = Reshape(y, [batch * inner, y.Shape[r - 1]]);
        return MatMul(xf, yf);
    }

    /// <summary>
    /// The transpose of a 2-d product g = x·y (possibly through reshapes that add or drop leading size-1 dims) as the product
    /// yᵀ·xᵀ, for the adjoint of a transpose <paramref name="perm"/> of a matrix: the weight gradient of a tied LM head
    /// (logits = h·wteᵀ) is then dlogitsᵀ·h, written in wte's layout, rather than hᵀ·dlogits copied into it
    /// transposed. Null when g is no such product or <paramref name="perm"/> is not a swap of the last two dims.
    /// </summary>
    public static Node? TransposedProduct(Node g, IReadOnlyList<int> perm)
    {
        int r = perm.Count;
        if (r < 2 || perm[r - 2] != r - 1 || perm[r - 1] != r - 2) return null;
        for (int i = 0; i < r - 2; i++)
        {
            if (perm[i] != i || g.Shape[i] != Dim.One) return null;
        }

        var product = g;
        while (product.Op == Op.Reshape) product = product.Inputs[0];
        if (product.Op != Op.MatMul || product.Shape.Rank != 2 || product.Shape[0] != g.Shape[r - 2] || product.Shape[1] != g.Shape[r - 1]) return null;
        var (x, y) = (product.Inputs[0], product.Inputs[1]);
        if (x.Shape.Rank != 2 || y.Shape.Rank != 2) return null;
        var swapped = MatMul(Transpose(y, 0, 1), MatrixTranspose(x));
        return r == 2 ? swapped : Reshape(swapped, new Shape([.. g.Shape.Take(r - 2), g.Shape[r - 1], g.Shape[r - 2]]));
    }

    /// <summary>
    /// The transpose of matrix <paramref name="x"/>; when x is a batch folded into columns (a rank-r tensor with its
    /// last axis moved first, reshaped to [last, rest], as <see cref="BatchSummedProduct"/> builds), the tensor
    /// reshaped to [rest, last] without a permute. (A product of two transposes would be rewritten by the layout
    /// pass into the transpose of a product, which a dense consumer copies.)
    /// </summary>
    private static Node MatrixTranspose(Node x)
    {
        if (x.Op == Op.Reshape && x.Inputs[0].Op == Op.Permute)
        {
            var src = x.Inputs[0].Inputs[0];
            var perm = x.Inputs[0].Attr<PermuteAttrs>().Perm;
            int r = perm.Count;
            bool lastFirst = r >= 2 && perm[0] == r - 1 && Enumerable.Range(1, r - 1).All(i => perm[i] == i - 1);
            if (lastFirst && x.Shape.Rank == 2 && x.Shape[0] == src.Shape[r - 1])
            {
                return Reshape(src, [x.Shape[1], x.Shape[0]]);
            }
        }

        return Transpose(x, 0, 1);
    }

    /// <summary>The number of elements a reduction over <paramref name="axes"/> of <paramref name="x"/> combines, as a scalar of x's dtype.</summary>
    public static Node Count(Node x, IReadOnlyList<int> axes)
    {
        var n = axes.Aggregate(Dim.One, (p, a) => p * x.Shape[a]);
        if (n.TryGetConstant() is long c) return Scalar(c, x.DType);
        return Reduce(Op.Sum, Full(1, x.DType, new Shape(axes.Select(a => x.Shape[a]))));
    }
}
