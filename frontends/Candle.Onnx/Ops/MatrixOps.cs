using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>MatMul (numpy semantics, as the IR's), Gemm (alpha·A'·B' + beta·C with C broadcast) and Det (expanded).</summary>
internal static class MatrixOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["MatMul"] = n => NodeImport.One(MatMul(n.Input(0), n.Input(1)));
        t["Gemm"] = Gemm;
        t["Det"] = Det;
    }

    /// <summary>The most rows of a determinant expanded (Leibniz: n! products of n entries).</summary>
    private const int MaxDetRows = 6;

    /// <summary>
    /// Det of [.., n, n] for a constant n up to <see cref="MaxDetRows"/>: the Leibniz sum over permutations σ of
    /// sign(σ)·Π x[i, σ(i)].
    /// </summary>
    private static OnnxValue[] Det(NodeImport n)
    {
        var x = n.Input(0);
        int r = x.Shape.Rank;
        if (r < 2 || !x.DType.IsFloat()) throw n.Import($"needs a float X [.., n, n], got {x.TypeString}");
        long rows = x.Shape[r - 1].TryGetConstant() ?? throw n.Import($"needs a constant matrix size, got {x.Shape}");
        if (x.Shape[r - 2].TryGetConstant() != rows) throw n.Import($"needs square matrices, got {x.Shape}");
        if (rows < 1 || rows > MaxDetRows) throw n.Import($"expands determinants of 1 to {MaxDetRows} rows, got {rows}");
        int size = (int)rows;
        var entry = new Node[size, size];
        for (int i = 0; i < size; i++)
        {
            var row = Select(x, r - 2, i);
            for (int j = 0; j < size; j++) entry[i, j] = Select(row, r - 2, j);
        }

        Node? sum = null;
        foreach (var (perm, sign) in Permutations(size))
        {
            var term = entry[0, perm[0]];
            for (int i = 1; i < size; i++) term = Binary(Op.Mul, term, entry[i, perm[i]]);
            sum = sum is null ? (sign > 0 ? term : Unary(Op.Neg, term)) : Binary(sign > 0 ? Op.Add : Op.Sub, sum, term);
        }

        return NodeImport.One(sum!);
    }

    /// <summary>Every permutation of 0..n−1 with its sign (Heap's algorithm: each step one swap, which flips the sign).</summary>
    private static IEnumerable<(int[] Perm, int Sign)> Permutations(int n)
    {
        var a = Enumerable.Range(0, n).ToArray();
        var c = new int[n];
        int sign = 1;
        yield return ((int[])a.Clone(), sign);
        for (int i = 0; i < n;)
        {
            if (c[i] < i)
            {
                int j = i % 2 == 0 ? 0 : c[i];
                (a[j], a[i]) = (a[i], a[j]);
                sign = -sign;
                yield return ((int[])a.Clone(), sign);
                c[i]++;
                i = 0;
            }
            else
            {
                c[i] = 0;
                i++;
            }
        }
    }

    private static OnnxValue[] Gemm(NodeImport n)
    {
        Node a = n.Input(0), b = n.Input(1);
        if (a.Shape.Rank != 2 || b.Shape.Rank != 2) throw n.Import($"needs 2-d A and B, got {a.Shape} and {b.Shape}");
        if (n.Attrs.Int("transA", 0) != 0) a = Transpose(a, 0, 1);
        if (n.Attrs.Int("transB", 0) != 0) b = Transpose(b, 0, 1);
        double alpha = n.Attrs.Float("alpha", 1.0), beta = n.Attrs.Float("beta", 1.0);
        var y = MatMul(a, b);
        if (alpha != 1.0) y = Binary(Op.Mul, y, Scalar(alpha, y.DType));
        if (n.OptionalInput(2) is { } c)
        {
            if (beta != 1.0) c = Binary(Op.Mul, c, Scalar(beta, c.DType));
            y = Binary(Op.Add, y, c);
        }

        return NodeImport.One(y);
    }
}
