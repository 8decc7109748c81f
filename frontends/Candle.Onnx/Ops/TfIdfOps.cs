using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// TfIdfVectorizer (opset 9) over integer input [C] or [N, C] with pool_int64s: the n-grams of the pool with
/// min_gram_length ≤ n ≤ max_gram_length are counted per row, an n-gram at positions s, s + d, ..., s + (n − 1)·d for
/// every skip distance d from 1 to max_skip_count + 1 (1-grams once, at d = 1), as the product of the element
/// comparisons of shifted slices summed over the starts. Each count goes to output column ngram_indexes[i]: as is
/// ("TF"), as 1 where nonzero ("IDF"), times the n-gram's weight ("TFIDF", and "IDF" with weights). pool_strings needs
/// string input, which the IR does not hold.
/// </summary>
internal static class TfIdfOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["TfIdfVectorizer"] = TfIdfVectorizer;

    private static OnnxValue[] TfIdfVectorizer(NodeImport n)
    {
        var x = n.Input(0);
        if (x.DType is not (DType.I32 or DType.I64) || x.Shape.Rank is not (1 or 2)) throw n.Import($"needs a 1-D or 2-D int32 or int64 input, got {x.DType.TorchName()} {x.Shape}");
        if (x.Shape[^1].TryGetConstant() is not long length) throw n.Import($"needs a constant row length, got {x.Shape}");
        string mode = n.Attrs.String("mode", "");
        if (mode is not ("TF" or "IDF" or "TFIDF")) throw n.Import($"mode '{mode}' is not TF, IDF or TFIDF");
        long minGram = n.Attrs.Int("min_gram_length"), maxGram = n.Attrs.Int("max_gram_length"), maxSkip = n.Attrs.Int("max_skip_count");
        if (minGram < 1 || maxGram < minGram || maxSkip < 0) throw n.Import($"min_gram_length {minGram}, max_gram_length {maxGram} and max_skip_count {maxSkip} must satisfy 1 ≤ min ≤ max and skip ≥ 0");
        long[] pool = n.Attrs.Ints("pool_int64s") ?? throw n.Import(n.Attrs.Has("pool_strings") ? "pool_strings (string n-grams) is not supported" : "needs attribute 'pool_int64s'");
        long[] counts = n.Attrs.Ints("ngram_counts") ?? throw n.Import("needs attribute 'ngram_counts'");
        long[] indexes = n.Attrs.Ints("ngram_indexes") ?? throw n.Import("needs attribute 'ngram_indexes'");
        float[]? weights = n.Attrs.Floats("weights");
        if (indexes.Length == 0 || indexes.Any(i => i < 0 || i >= 1 << 20)) throw n.Format("ngram_indexes must be non-empty and within [0, 2^20)");
        if (weights is not null && weights.Length != indexes.Length) throw n.Format($"weights has {weights.Length} entries, ngram_indexes {indexes.Length}");

        // The pool's n-grams: ngram_counts[k] is where the (k + 1)-grams start.
        var grams = new List<(long[] Tokens, int Entry)>();
        int entry = 0;
        for (int k = 0; k < counts.Length; k++)
        {
            long size = k + 1, begin = counts[k], end = k + 1 < counts.Length ? counts[k + 1] : pool.Length;
            if (begin < 0 || end < begin || end > pool.Length || (end - begin) % size != 0) throw n.Format($"ngram_counts [{string.Join(", ", counts)}] does not split the {pool.Length} pool entries into n-grams");
            for (long at = begin; at < end; at += size, entry++)
            {
                if (size >= minGram && size <= maxGram) grams.Add((pool[(int)at..(int)(at + size)], entry));
            }
        }

        if (entry > indexes.Length) throw n.Format($"the pool holds {entry} n-grams but ngram_indexes has {indexes.Length} entries");
        n.Expand(grams.Sum(g => g.Tokens.Length * 3L * (maxSkip + 1)), 0, $"counting {grams.Count} n-grams");

        var rows = x.Shape.Rank == 2 ? x : Unsqueeze(x, 0);
        var wide = Cast(rows, DType.I64);
        var equal = new Dictionary<long, Node>();
        Node Equal(long token) => equal.TryGetValue(token, out var e) ? e : equal[token] = Cast(Binary(Op.Eq, wide, Scalar(token, DType.I64)), DType.F32);
        long outputs = indexes.Max() + 1;
        var columns = new Node?[outputs];
        foreach (var (tokens, index) in grams)
        {
            int size = tokens.Length;
            Node? count = null;
            for (long d = 1; d <= (size == 1 ? 1 : maxSkip + 1); d++)
            {
                long starts = length - ((size - 1) * d);
                if (starts <= 0) break;
                Node? match = null;
                for (int j = 0; j < size; j++)
                {
                    var hit = SliceAxis(Equal(tokens[j]), 1, j * d, (j * d) + starts);
                    match = match is null ? hit : Binary(Op.Mul, match, hit);
                }

                var found = Reduce(Op.Sum, match!, [1]);
                count = count is null ? found : Binary(Op.Add, count, found);
            }

            if (count is null) continue;
            double weight = weights?[index] ?? 1;
            Node value = mode switch
            {
                "TF" => count,
                "IDF" => Where(Binary(Op.Gt, count, Scalar(0, DType.F32)), Scalar(weight, DType.F32), Scalar(0, DType.F32)),
                _ => Binary(Op.Mul, count, Scalar(weight, DType.F32)),
            };
            long column = indexes[index];
            columns[column] = columns[column] is { } previous ? Binary(Op.Add, previous, value) : value;
        }

        var y = Stack(columns.Select(c => c ?? Full(0, DType.F32, new Shape(rows.Shape[0]))), 1);
        return NodeImport.One(x.Shape.Rank == 2 ? y : Reshape(y, new Shape(Dim.Of(outputs))));
    }
}
