using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Passes;

/// <summary>
/// Merges matrix products that share their left operand and whose right operands are constant matrices of one dtype
/// and depth — each a constant [K, Nᵢ] or the transpose of a constant [Nᵢ, K] (a linear layer's weight), all of the
/// same form — into one product with the constants concatenated along N (a new named constant), each original product
/// becoming a slice of its columns. Two or more products read in turn become one wider product: the same arithmetic
/// and one kernel instead of several. It runs only for backends that ask for it
/// (<see cref="Backends.BackendCapabilities.MergesProducts"/>), where a launch costs more than the wider product saves
/// by doing them apart. Float dtypes only; products with other readers of the weights are merged all the same (the
/// originals stay where read). Quantized products (<see cref="Op.QuantMatMul"/>) that share their left operand and
/// whose weights have one block type and depth are merged likewise into one product over a new quantized constant whose
/// blocks are the weights' stored blocks one after another.
/// </summary>
public sealed class MatMulMerging : Pass
{
    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("matmul-merging", 2);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(context);
        if (context.Capabilities is not { MergesProducts: true }) return graph;

        // Products by left operand, in graph order, keyed also by the weight's form and dtype.
        var groups = new Dictionary<(Node Left, bool Transposed, DType DType, long K), List<Node>>();
        foreach (var n in graph.Nodes)
        {
            if (n.Op != Op.MatMul || !n.DType.IsFloat() || WeightOf(n.Inputs[1]) is not { } found) continue;
            var w = found;
            var key = (n.Inputs[0], w.Transposed, w.Data.DType, w.K);
            if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
            list.Add(n);
        }

        // Quantized products by left operand, block type and depth: their blocks are concatenated row after row.
        var quantGroups = new Dictionary<(Node Left, GgmlType Type, int K), List<Node>>();
        foreach (var n in graph.Nodes)
        {
            if (n.Op != Op.QuantMatMul || n.Inputs[1].Op != Op.QuantConstant) continue;
            var q = n.Inputs[1].Attr<QuantConstantAttrs>().Data;
            var key = (n.Inputs[0], q.Type, q.Cols);
            if (!quantGroups.TryGetValue(key, out var list)) quantGroups[key] = list = [];
            list.Add(n);
        }

        var merged = groups.Values.Concat(quantGroups.Values).Where(g => g.Count > 1).ToList();
        if (merged.Count == 0) return graph;
        var groupOf = new Dictionary<Node, List<Node>>(ReferenceEqualityComparer.Instance);
        foreach (var g in merged)
        {
            foreach (var n in g) groupOf[n] = g;
        }

        var product = new Dictionary<List<Node>, Node>(ReferenceEqualityComparer.Instance);
        var map = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            if (!groupOf.TryGetValue(n, out var group))
            {
                map[n] = n.WithInputs([.. n.Inputs.Select(i => map[i])]);
                continue;
            }

            if (!product.TryGetValue(group, out var wide))
            {
                product[group] = wide = n.Op == Op.QuantMatMul
                    ? IrBuilder.QuantMatMul(map[n.Inputs[0]], IrBuilder.QuantConstant(QuantConcatenated(group)))
                    : IrBuilder.MatMul(map[n.Inputs[0]], Concatenated(group));
            }

            long start = 0;
            foreach (var m in group)
            {
                long width = Width(m);
                if (ReferenceEquals(m, n)) break;
                start += width;
            }

            map[n] = IrBuilder.Slice(wide, -1, start, start + Width(n));
        }

        var outs = graph.Outputs.Select(o => map[o]).ToImmutableArray();
        var inputs = graph.Inputs.Select(i => map[i]).ToImmutableArray();
        return new Graph(inputs, outs, graph.OutputNames);
    }

    /// <summary>The output features of a product of a group.</summary>
    private static long Width(Node product) => product.Op == Op.QuantMatMul
        ? product.Inputs[1].Attr<QuantConstantAttrs>().Data.Rows
        : WeightOf(product.Inputs[1])!.Value.N;

    /// <summary>
    /// The quantized weights of a group as one [ΣNᵢ, K] matrix of their block type (rows are whole blocks, so the stored
    /// bytes one after another), made once per set of weights and kept while the first lives, like <see cref="Concatenated"/>.
    /// </summary>
    private static QuantizedTensor QuantConcatenated(List<Node> group)
    {
        var parts = group.Select(g => g.Inputs[1].Attr<QuantConstantAttrs>().Data).ToList();
        var made = s_quantMerged.GetOrCreateValue(parts[0]);
        lock (made)
        {
            var found = made.FirstOrDefault(m => m.Parts.Length == parts.Count && m.Parts.Zip(parts).All(p => ReferenceEquals(p.First, p.Second))).Merged;
            if (found is not null) return found;
            var bytes = new byte[parts.Sum(p => (long)p.Storage.Data.Length)];
            long at = 0;
            foreach (var p in parts)
            {
                p.Storage.Data.Span.CopyTo(bytes.AsSpan(checked((int)at)));
                at += p.Storage.Data.Length;
            }

            var merged = new QuantizedTensor(parts[0].Type, parts.Sum(p => p.Rows), parts[0].Cols, bytes, string.Join("+", parts.Select(p => p.Name)));
            made.Add(([.. parts], merged));
            return merged;
        }
    }

    // Merged quantized weights by the first of their parts.
    private static readonly ConditionalWeakTable<QuantizedTensor, List<(QuantizedTensor[] Parts, QuantizedTensor Merged)>> s_quantMerged = [];

    /// <summary>A constant right operand: its data, whether it is the transpose of the stored [N, K] matrix, K and N.</summary>
    private static (HostTensor Data, string? Name, bool Transposed, long K, long N)? WeightOf(Node rhs)
    {
        bool transposed = rhs.Op == Op.Permute && rhs.Attr<PermuteAttrs>().Perm is { Count: 2 } p && p[0] == 1 && p[1] == 0;
        var c = transposed ? rhs.Inputs[0] : rhs;
        if (c.Op != Op.Constant || c.Shape.Rank != 2 || !c.Shape.IsStatic) return null;
        var a = c.Attr<ConstantAttrs>();
        if (a.Data.Rank != 2 || a.Data.DType != rhs.DType) return null;
        long rows = a.Data.Shape[0], cols = a.Data.Shape[1];
        return transposed ? (a.Data, a.Name, true, cols, rows) : (a.Data, a.Name, false, rows, cols);
    }

    /// <summary>
    /// The right operands of a group side by side along N, as the operand of one product ([K, ΣN]). The merged data
    /// is made once per set of weights and kept while the first of them lives, so the plans compiled from one model
    /// (prefill, decode) share it and a device that uploads each weight once uploads it once.
    /// </summary>
    private static Node Concatenated(List<Node> group)
    {
        var weights = group.Select(g => WeightOf(g.Inputs[1])!.Value).ToList();
        var first = weights[0];
        string name = string.Join("+", weights.Select(w => w.Name ?? "weight"));
        var made = s_merged.GetOrCreateValue(first.Data);
        HostTensor? data;
        lock (made)
        {
            data = made.FirstOrDefault(m => m.Transposed == first.Transposed && m.Parts.Length == weights.Count
                && m.Parts.Zip(weights).All(p => ReferenceEquals(p.First, p.Second.Data))).Merged;
            if (data is null)
            {
                data = Concatenate(weights);
                made.Add(([.. weights.Select(w => w.Data)], first.Transposed, data));
            }
        }

        var stored = IrBuilder.Constant(data, name);
        return first.Transposed ? IrBuilder.Transpose(stored, 0, 1) : stored;
    }

    // Merged data by the first of its weights.
    private static readonly ConditionalWeakTable<HostTensor, List<(HostTensor[] Parts, bool Transposed, HostTensor Merged)>> s_merged = [];

    private static HostTensor Concatenate(List<(HostTensor Data, string? Name, bool Transposed, long K, long N)> weights)
    {
        var first = weights[0];
        int size = first.Data.DType.SizeInBytes();
        long k = first.K, total = weights.Sum(w => w.N);
        var bytes = new byte[checked(k * total * size)];
        if (first.Transposed)
        {
            // Stored [Nᵢ, K] row-major: the merged [ΣN, K] is the matrices one after another.
            long at = 0;
            foreach (var w in weights)
            {
                w.Data.Data.Span.CopyTo(bytes.AsSpan(checked((int)at)));
                at += w.Data.Data.Length;
            }

            return new HostTensor(first.Data.DType, [checked((int)total), checked((int)k)], bytes);
        }

        // Stored [K, Nᵢ]: each merged row is the rows of the matrices side by side.
        long offset = 0;
        foreach (var w in weights)
        {
            int rowBytes = checked((int)(w.N * size));
            var src = w.Data.Data.Span;
            for (long r = 0; r < k; r++)
            {
                src.Slice(checked((int)(r * rowBytes)), rowBytes).CopyTo(bytes.AsSpan(checked((int)((r * total * size) + offset))));
            }

            offset += rowBytes;
        }

        return new HostTensor(first.Data.DType, [checked((int)k), checked((int)total)], bytes);
    }
}
