using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;
using Candle.Runtime;

namespace Candle.Compiler.Passes;

/// <summary>
/// Evaluates at compile time every node whose operands are all compile-time constants (constants, fills,
/// ranges), with the reference interpreter so folding has exactly the runtime semantics. An elementwise op over
/// fills becomes a fill of any size (computed once on scalars). Otherwise results are kept only up to
/// <see cref="MaxElements"/> elements so folding never multiplies memory, and nothing that reads a named
/// constant (a weight) is folded: weight transformations are the business of <see cref="WeightPrepacking"/>.
/// A folded result whose elements are all equal becomes a fill.
/// </summary>
public sealed class ConstantFolding : Pass
{
    /// <summary>A folding pass keeping results of up to <paramref name="maxElements"/> elements.</summary>
    public ConstantFolding(long maxElements = 1 << 16) => MaxElements = maxElements;

    /// <summary>The largest folded result kept as a new constant.</summary>
    public long MaxElements { get; }

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("constant-folding", 1);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.Rewrite(Fold);
    }

    /// <summary>The folded replacement of <paramref name="node"/>, or null when it cannot or should not fold.</summary>
    public Node? Fold(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Op.IsLeaf() || node.Inputs.Length == 0 || !node.Shape.IsStatic) return null;
        if (!node.Inputs.All(NodeFacts.IsConstantLeaf)) return null;
        if (node.Inputs.Any(i => i.Op == Op.Constant && i.Attr<ConstantAttrs>().Name is not null)) return null;
        if (node.Op.IsElementwise() && node.Inputs.All(i => i.Op == Op.Full))
        {
            var scalar = Node.Create(node.Op, [.. node.Inputs.Select(i => IrBuilder.Full(i.Attr<FullAttrs>().Value, i.DType, Shape.Scalar))], node.Attrs);
            return IrBuilder.Full(ReferenceInterpreter.Evaluate(scalar).GetDouble(0), node.DType, node.Shape);
        }

        if (node.Op.IsView() && node.Inputs[0].Op == Op.Full) return IrBuilder.Full(node.Inputs[0].Attr<FullAttrs>().Value, node.DType, node.Shape);
        long numel = node.Shape.Numel.Value;
        if (numel > MaxElements) return null;
        var t = ReferenceInterpreter.Evaluate(node);
        if (t.ElementCount > 0)
        {
            double first = t.GetDouble(0);
            bool uniform = true;
            for (long i = 1; i < t.ElementCount && uniform; i++) uniform = BitConverter.DoubleToInt64Bits(t.GetDouble(i)) == BitConverter.DoubleToInt64Bits(first);
            if (uniform && (node.DType.IsFloat() || node.DType == DType.Bool || Math.Abs(first) < (1L << 53)))
            {
                return IrBuilder.Full(first, node.DType, node.Shape);
            }
        }

        return IrBuilder.Constant(t);
    }
}
