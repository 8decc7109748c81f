using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;

namespace Candle.Compiler.Passes;

/// <summary>
/// Layout rewrites: permutes sink below elementwise ops (so they meet and cancel, or reach a matmul), permutes
/// compose, and a matmul of two last-axes transposes becomes the transpose of the swapped matmul
/// (Aᵀ·Bᵀ = (B·A)ᵀ). Weight transposes feeding matmuls are materialized at O3 by <see cref="WeightPrepacking"/>.
/// </summary>
public sealed class Layout : Pass
{
    /// <summary>The rules of this pass.</summary>
    public static RuleSet Rules { get; } = Build();

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("layout", 2);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context) => Rewriter.Rewrite(graph, Rules);

    /// <summary>True for a permutation that swaps the last two axes and keeps the others.</summary>
    public static bool IsLastTwoSwap(IntList perm)
    {
        int r = perm.Count;
        if (r < 2 || perm[r - 1] != r - 2 || perm[r - 2] != r - 1) return false;
        for (int i = 0; i < r - 2; i++)
        {
            if (perm[i] != i) return false;
        }

        return true;
    }

    private static RuleSet Build()
    {
        var p = Pattern.Of(Op.Permute, Pattern.Any("a")).As("p");
        return new RuleSet
        {
            AlgebraicSimplification.Rules.First(r => r.Name == "permute-permute"),
            new Rule(
                "sink-permute-unary",
                Pattern.OfGroup(op => op.IsUnary(), "unary", p),
                m => IrBuilder.Permute(Node.Create(m.Root.Op, [m["a"]], m.Root.Attrs), [.. m["p"].Attr<PermuteAttrs>().Perm])),
            new Rule(
                "sink-permute-binary",
                Pattern.OfGroup(op => op.IsBinary(), "binary", p, Pattern.Of(Op.Permute, Pattern.Any("b")).As("q")).Where(n => n.Inputs[0].Attrs == n.Inputs[1].Attrs),
                m => IrBuilder.Permute(Node.Create(m.Root.Op, [m["a"], m["b"]], m.Root.Attrs), [.. m["p"].Attr<PermuteAttrs>().Perm])),
            new Rule(
                "sink-permute-binary-fill-right",
                Pattern.OfGroup(op => op.IsBinary(), "binary", p, Pattern.Of(Op.Full).As("f")),
                m => IrBuilder.Permute(Node.Create(m.Root.Op, [m["a"], NodeFacts.FullLike(m["a"], m["f"].Attr<Ir.FullAttrs>().Value)], m.Root.Attrs), [.. m["p"].Attr<PermuteAttrs>().Perm])),
            new Rule(
                "sink-permute-binary-fill-left",
                Pattern.OfGroup(op => op.IsBinary(), "binary", Pattern.Of(Op.Full).As("f"), p),
                m => IrBuilder.Permute(Node.Create(m.Root.Op, [NodeFacts.FullLike(m["a"], m["f"].Attr<Ir.FullAttrs>().Value), m["a"]], m.Root.Attrs), [.. m["p"].Attr<PermuteAttrs>().Perm])),
            new Rule(
                "matmul-of-transposes",
                Pattern.Of(Op.MatMul, Pattern.Of(Op.Permute, Pattern.Any("a")).As("p"), Pattern.Of(Op.Permute, Pattern.Any("b")).As("q"))
                    .Where(n => IsLastTwoSwap(n.Inputs[0].Attr<PermuteAttrs>().Perm) && IsLastTwoSwap(n.Inputs[1].Attr<PermuteAttrs>().Perm)),
                m => IrBuilder.Transpose(Node.Create(Op.MatMul, null, m["b"], m["a"]), -2, -1)),
        };
    }
}
