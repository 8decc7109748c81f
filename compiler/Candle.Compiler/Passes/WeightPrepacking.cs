using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Passes;

/// <summary>
/// Pre-packs weights for the GEMM microkernel at compile time: a matmul's right operand that is a transposed
/// (and possibly cast) named constant — <c>linear</c>'s <c>x · wᵀ</c>, also under the reshapes and expands that
/// batch broadcasting adds — is replaced by a new constant holding
/// the [K, N] row-major data, named <c>{weight}.packed</c> (except float32 casts of bfloat16 weights, which the
/// GEMM reads as stored). The names packed are published in
/// <see cref="PassContext.Analyses"/> under <see cref="AnalysisKey"/>.
/// </summary>
public sealed class WeightPrepacking : Pass
{
    /// <summary>Key of the packed-weight list (<c>IReadOnlyList&lt;string&gt;</c>) in <see cref="PassContext.Analyses"/>.</summary>
    public const string AnalysisKey = "weight-prepacking";

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("weight-prepacking", 3, ["layout"]);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var packed = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        var result = graph.Rewrite(n =>
        {
            if (n.Op != Op.MatMul || Repack(n.Inputs[1], packed) is not { } b) return null;
            return Node.Create(Op.MatMul, null, n.Inputs[0], b);
        });
        if (context is not null) context.Analyses[AnalysisKey] = packed.Values.Select(c => c.Attr<ConstantAttrs>().Name!).ToList();
        return result;
    }

    // The operand with its transposed weight replaced by a packed constant, keeping the reshapes and expands
    // (batch dims) above it; null when the operand is not such a weight.
    private static Node? Repack(Node b, Dictionary<Node, Node> packed)
    {
        if (b.Op is Op.Reshape or Op.Expand)
        {
            return Repack(b.Inputs[0], packed) is { } inner ? Node.Create(b.Op, [inner], b.Attrs) : null;
        }

        if (!IsPackable(b)) return null;
        if (!packed.TryGetValue(b, out var c))
        {
            c = IrBuilder.Constant(ReferenceInterpreter.Evaluate(b), WeightName(b) + ".packed");
            packed[b] = c;
        }

        return c;
    }

    private static bool IsPackable(Node b)
    {
        if (b.Op != Op.Permute || !Layout.IsLastTwoSwap(b.Attr<PermuteAttrs>().Perm)) return false;
        var w = b.Inputs[0];
        if (w.Op == Op.Cast)
        {
            // A float32 cast of a bfloat16 weight is read as stored by the GEMM: a float32 copy would double it.
            if (w.DType == DType.F32 && w.Inputs[0].DType == DType.BF16) return false;
            w = w.Inputs[0];
        }

        return w.Op == Op.Constant && w.Attr<ConstantAttrs>().Name is not null && b.Shape.IsStatic;
    }

    private static string WeightName(Node b)
    {
        var w = b.Inputs[0];
        if (w.Op == Op.Cast) w = w.Inputs[0];
        return w.Attr<ConstantAttrs>().Name!;
    }
}
