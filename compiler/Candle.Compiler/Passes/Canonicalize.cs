using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;

namespace Candle.Compiler.Passes;

/// <summary>
/// Puts the graph in the canonical form later rules expect: compile-time constants on the right of commutative
/// ops, and trivial identities removed (casts to the same dtype, reshapes and expands to the same shape,
/// identity permutations).
/// </summary>
public sealed class Canonicalize : Pass
{
    /// <summary>The rules of this pass.</summary>
    public static RuleSet Rules { get; } = new()
    {
        new Rule(
            "constant-operand-right",
            Pattern.OfGroup(op => op.IsCommutative() && op.IsBinary(), "commutative", Pattern.Any("a"), Pattern.Any("b")).WithCommutative(false),
            m => NodeFacts.IsConstantLeaf(NodeFacts.StripBroadcast(m["a"])) && !NodeFacts.IsConstantLeaf(NodeFacts.StripBroadcast(m["b"]))
                ? Node.Create(m.Root.Op, [m["b"], m["a"]], m.Root.Attrs)
                : null),
        new Rule("cast-same-dtype", Pattern.Of(Op.Cast, Pattern.Any("x")).Where(n => n.DType == n.Inputs[0].DType), m => m["x"]),
        new Rule("reshape-same-shape", Pattern.Of(Op.Reshape, Pattern.Any("x")).Where(n => n.Shape.Equals(n.Inputs[0].Shape)), m => m["x"]),
        new Rule("expand-same-shape", Pattern.Of(Op.Expand, Pattern.Any("x")).Where(n => n.Shape.Equals(n.Inputs[0].Shape)), m => m["x"]),
        new Rule(
            "permute-identity",
            Pattern.Of(Op.Permute, Pattern.Any("x")).Where(n => n.Attr<PermuteAttrs>().Perm.SequenceEqual(Enumerable.Range(0, n.Shape.Rank))),
            m => m["x"]),
    };

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("canonicalize", 1);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context) => Rewriter.Rewrite(graph, Rules);
}
