using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Einsum: a label repeated within an operand takes its diagonal (the product with an identity mask, summed over
/// the repeat); every operand is then permuted and reshaped onto one label order (output labels first), the
/// operands are multiplied with broadcasting and the labels not in the output are summed. "..." stands for the
/// leading dims, right-aligned across operands; without "->" the output is the ellipsis then the labels that occur
/// once, in alphabetical order.
/// </summary>
internal static class EinsumOps
{
    private const string EllipsisLabels = "0123456789";

    public static void Register(Dictionary<string, OpImporter> t) => t["Einsum"] = Einsum;

    private static OnnxValue[] Einsum(NodeImport n)
    {
        string equation = n.Attrs.String("equation", string.Empty).Replace(" ", string.Empty, StringComparison.Ordinal);
        string[] sides = equation.Split("->");
        if (sides.Length > 2) throw n.Import($"equation '{equation}' has more than one '->'");
        string[] terms = sides[0].Split(',');
        if (terms.Length != n.InputCount) throw n.Import($"equation '{equation}' names {terms.Length} operands for {n.InputCount} inputs");

        var operands = new List<Node>();
        var labels = new List<string>();
        int ellipsisRank = 0;
        for (int i = 0; i < terms.Length; i++)
        {
            var x = n.Input(i);
            string term = terms[i];
            int explicitCount = term.Replace("...", string.Empty, StringComparison.Ordinal).Length;
            if (term.Contains("...", StringComparison.Ordinal)) ellipsisRank = Math.Max(ellipsisRank, x.Shape.Rank - explicitCount);
        }

        if (ellipsisRank > EllipsisLabels.Length) throw n.Import($"an ellipsis over {ellipsisRank} dims is not supported");
        for (int i = 0; i < terms.Length; i++)
        {
            var x = n.Input(i);
            string term = Expand(n, terms[i], x.Shape.Rank, ellipsisRank);
            if (term.Length != x.Shape.Rank) throw n.Import($"term '{terms[i]}' does not match input {i} of rank {x.Shape.Rank}");
            (x, term) = Diagonals(n, x, term);
            operands.Add(x);
            labels.Add(term);
        }

        string output;
        if (sides.Length == 2)
        {
            output = Expand(n, sides[1], sides[1].Replace("...", string.Empty, StringComparison.Ordinal).Length + ellipsisRank, ellipsisRank);
        }
        else
        {
            var counts = labels.SelectMany(l => l).Where(c => !EllipsisLabels.Contains(c, StringComparison.Ordinal)).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).Order();
            output = EllipsisLabels[..ellipsisRank] + new string([.. counts]);
        }

        if (output.Distinct().Count() != output.Length) throw n.Import($"output '{output}' repeats a label");
        string all = output + new string([.. labels.SelectMany(l => l).Distinct().Where(c => !output.Contains(c, StringComparison.Ordinal))]);
        foreach (char c in output)
        {
            if (!labels.Any(l => l.Contains(c, StringComparison.Ordinal))) throw n.Import($"output label '{c}' is in no operand");
        }

        Node? product = null;
        for (int i = 0; i < operands.Count; i++)
        {
            var x = operands[i];
            string term = labels[i];
            string present = new([.. all.Where(c => term.Contains(c, StringComparison.Ordinal))]);
            x = Permute(x, [.. present.Select(c => term.IndexOf(c, StringComparison.Ordinal))]);
            var shape = all.Select(c => present.Contains(c, StringComparison.Ordinal) ? x.Shape[present.IndexOf(c, StringComparison.Ordinal)] : Dim.One);
            x = Reshape(x, new Shape(shape));
            product = product is null ? x : Binary(Op.Mul, product, x);
        }

        var result = product!;
        if (all.Length > output.Length) result = Reduce(Op.Sum, result, Enumerable.Range(output.Length, all.Length - output.Length), keepDim: false);
        return NodeImport.One(Cast(result, n.Input(0).DType));
    }

    /// <summary>The term with "..." replaced by the last <paramref name="rank"/> − (explicit labels) ellipsis labels.</summary>
    private static string Expand(NodeImport n, string term, int rank, int ellipsisRank)
    {
        int at = term.IndexOf("...", StringComparison.Ordinal);
        if (at < 0)
        {
            if (term.Any(c => !char.IsAsciiLetter(c))) throw n.Import($"term '{term}' has characters other than letters");
            return term;
        }

        string rest = term.Remove(at, 3);
        if (rest.Any(c => !char.IsAsciiLetter(c))) throw n.Import($"term '{term}' has characters other than letters and one '...'");
        int count = rank - rest.Length;
        if (count < 0 || count > ellipsisRank) throw n.Import($"term '{term}' does not fit rank {rank}");
        return term[..at] + EllipsisLabels[(ellipsisRank - count)..ellipsisRank] + term[(at + 3)..];
    }

    /// <summary>Takes the diagonal of every label repeated in <paramref name="term"/>.</summary>
    private static (Node X, string Term) Diagonals(NodeImport n, Node x, string term)
    {
        for (int q = 1; q < term.Length; q++)
        {
            int p = term.IndexOf(term[q], StringComparison.Ordinal);
            if (p == q) continue;
            if (x.Shape[p] != x.Shape[q]) throw n.Import($"label '{term[q]}' has sizes {x.Shape[p]} and {x.Shape[q]}");
            int rank = x.Shape.Rank;
            var rows = Reshape(Arange(x.Shape[p]), new Shape(Enumerable.Range(0, rank).Select(i => i == p ? x.Shape[p] : Dim.One)));
            var cols = Reshape(Arange(x.Shape[q]), new Shape(Enumerable.Range(0, rank).Select(i => i == q ? x.Shape[q] : Dim.One)));
            var mask = Cast(Binary(Op.Eq, rows, cols), x.DType);
            x = Reduce(Op.Sum, Binary(Op.Mul, x, mask), [q], keepDim: false);
            term = term.Remove(q, 1);
            q--;
        }

        return (x, term);
    }
}
