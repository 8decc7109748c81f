namespace Candle.Compiler.Ir;

/// <summary>
/// Checks a whole graph: every node's dtype and shape agree with the typing rules, every reachable
/// Input is a declared graph input, input names are unique, output dims use only symbols the inputs
/// define, and fused bodies verify too. Run after every pass in tests and Debug builds.
/// </summary>
public static class Verifier
{
    /// <summary>Verifies <paramref name="graph"/>.</summary>
    /// <exception cref="IrException">The first problem found.</exception>
    public static void Verify(Graph graph)
    {
        var declared = new HashSet<Node>(graph.Inputs, ReferenceEqualityComparer.Instance);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in graph.Inputs)
        {
            if (!names.Add(i.Attr<InputAttrs>().Name)) throw new IrException($"graph input name '{i.Attr<InputAttrs>().Name}' is used twice");
        }

        var symbols = new HashSet<string>(graph.Symbols, StringComparer.Ordinal);
        foreach (var n in graph.Nodes)
        {
            if (n.Op == Op.Input && !declared.Contains(n))
            {
                throw new IrException($"input '{n.Attr<InputAttrs>().Name}' is used but not a graph input");
            }

            var (dtype, shape) = ShapeInference.Infer(n.Op, n.Inputs, n.Attrs);
            if (dtype != n.DType || !shape.Equals(n.Shape))
            {
                throw new IrException($"{n}: typing rules give {dtype}{shape}");
            }

            foreach (string s in n.Shape.Symbols)
            {
                if (!symbols.Contains(s)) throw new IrException($"{n}: symbol '{s}' is not defined by any graph input");
            }

            if (n.Attrs is FusedAttrs f)
            {
                Verify(f.Body);
            }
        }
    }
}
