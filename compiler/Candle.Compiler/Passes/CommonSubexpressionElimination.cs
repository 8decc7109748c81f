using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Passes;

/// <summary>
/// Merges equal computations that hash-consing alone does not see as equal: commutative ops with swapped
/// operands (a+b and b+a), and unnamed constants holding equal bytes (named constants are weights and keep
/// their identity). Structural duplicates are already one object thanks to hash-consing.
/// </summary>
public sealed class CommonSubexpressionElimination : Pass
{
    /// <summary>Unnamed constants above this size are not compared byte by byte.</summary>
    public const long MaxComparedConstantBytes = 1 << 20;

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("cse", 1);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var commutative = new Dictionary<(Op, OpAttrs?, Node, Node), Node>();
        var constants = new List<Node>();
        return graph.Rewrite(n =>
        {
            if (n.Op == Op.Constant && n.Attr<ConstantAttrs>() is { Name: null } c && c.Data.Data.Length <= MaxComparedConstantBytes)
            {
                var same = constants.FirstOrDefault(o => o.DType == n.DType && o.Shape.Equals(n.Shape) &&
                    o.Attr<ConstantAttrs>().Data.Data.Span.SequenceEqual(c.Data.Data.Span));
                if (same is not null) return same;
                constants.Add(n);
                return null;
            }

            if (n.Op.IsCommutative() && n.Inputs.Length == 2)
            {
                var (a, b) = (n.Inputs[0], n.Inputs[1]);
                if (a.Id > b.Id) (a, b) = (b, a);
                var key = (n.Op, n.Attrs, a, b);
                if (commutative.TryGetValue(key, out var existing)) return existing;
                commutative[key] = n;
            }

            return null;
        });
    }
}
