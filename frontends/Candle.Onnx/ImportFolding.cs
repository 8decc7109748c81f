using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Rewrite;

namespace Candle.Onnx;

/// <summary>
/// Folds, while importing, every node whose operands are small constants, so that shape computations an exporter
/// spelled out as tensor math (Shape, Cast, Div, Concat, Range feeding a Reshape, Expand or ConstantOfShape) become
/// constants the next node can read. Folding is the compiler's <see cref="ConstantFolding"/> (the reference
/// semantics); small named constants (initializers, fixed inputs) take part as their values.
/// </summary>
internal sealed class ImportFolding
{
    /// <summary>The largest constant read or produced while folding.</summary>
    private const long MaxElements = 1 << 12;

    private readonly ConstantFolding _folding = new(MaxElements);
    private readonly Dictionary<Node, Node> _done = new(ReferenceEqualityComparer.Instance);

    /// <summary><paramref name="node"/> with every foldable node of its subgraph folded.</summary>
    public Node Fold(Node node)
    {
        if (_done.TryGetValue(node, out var known)) return known;
        var result = node;
        if (!node.Op.IsLeaf())
        {
            var inputs = node.Inputs.Select(Fold).ToArray();
            var rebuilt = inputs.Where((x, i) => !ReferenceEquals(x, node.Inputs[i])).Any() ? Node.Create(node.Op, [.. inputs], node.Attrs) : node;
            result = TryFold(rebuilt) ?? rebuilt;
        }

        _done[node] = result;
        return result;
    }

    private Node? TryFold(Node node)
    {
        if (!node.Shape.IsStatic || node.Shape.Numel.Value > MaxElements) return null;
        if (!node.Inputs.All(NodeFacts.IsConstantLeaf)) return null;
        var inputs = new Node[node.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = node.Inputs[i];
            if (x.Op == Op.Constant && x.Attr<ConstantAttrs>() is { Name: not null } c)
            {
                if (c.Data.ElementCount > MaxElements) return null;
                x = IrBuilder.Constant(c.Data);
            }

            inputs[i] = x;
        }

        return _folding.Fold(Node.Create(node.Op, [.. inputs], node.Attrs));
    }
}
