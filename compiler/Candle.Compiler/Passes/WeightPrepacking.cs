using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;

namespace Candle.Compiler.Passes;

/// <summary>
/// Pre-packs weights for the GEMM microkernel at compile time: a matmul's right operand that is a transposed
/// (and possibly cast) named constant — <c>linear</c>'s <c>x · wᵀ</c> — is replaced by a new constant holding
/// the [K, N] row-major data, named <c>{weight}.packed</c>. The names packed are published in
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
            if (n.Op != Op.MatMul || !IsPackable(n.Inputs[1])) return null;
            var b = n.Inputs[1];
            if (!packed.TryGetValue(b, out var c))
            {
                string name = WeightName(b) + ".packed";
                c = IrBuilder.Constant(ReferenceInterpreter.Evaluate(b), name);
                packed[b] = c;
            }

            return Node.Create(Op.MatMul, null, n.Inputs[0], c);
        });
        if (context is not null) context.Analyses[AnalysisKey] = packed.Values.Select(c => c.Attr<ConstantAttrs>().Name!).ToList();
        return result;
    }

    private static bool IsPackable(Node b)
    {
        if (b.Op != Op.Permute || !Layout.IsLastTwoSwap(b.Attr<PermuteAttrs>().Perm)) return false;
        var w = b.Inputs[0];
        if (w.Op == Op.Cast) w = w.Inputs[0];
        return w.Op == Op.Constant && w.Attr<ConstantAttrs>().Name is not null && b.Shape.IsStatic;
    }

    private static string WeightName(Node b)
    {
        var w = b.Inputs[0];
        if (w.Op == Op.Cast) w = w.Inputs[0];
        return w.Attr<ConstantAttrs>().Name!;
    }
}
