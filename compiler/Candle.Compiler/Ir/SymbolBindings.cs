using Candle.Runtime.Tensors;

namespace Candle.Compiler.Ir;

/// <summary>Binds a graph's symbolic dimensions from the concrete shapes of the tensors given for its inputs.</summary>
public static class SymbolBindings
{
    /// <summary>
    /// Checks count, dtype and rank of every input and solves each symbol from the first input dim that is
    /// exactly that symbol; then checks every input dim evaluates to the given size.
    /// </summary>
    /// <exception cref="ArgumentException">The message names the input, the expected and the given type.</exception>
    public static Dictionary<string, long> Bind(IReadOnlyList<Node> graphInputs, IReadOnlyList<HostTensor> values) => Bind(graphInputs, values, null);

    /// <summary>
    /// As <see cref="Bind(IReadOnlyList{Node}, IReadOnlyList{HostTensor})"/>, starting from symbol values already known
    /// (those of an enclosing graph, for the body of a fused node).
    /// </summary>
    /// <exception cref="ArgumentException">An input has the wrong count, dtype, rank or size.</exception>
    public static Dictionary<string, long> Bind(IReadOnlyList<Node> graphInputs, IReadOnlyList<HostTensor> values, IReadOnlyDictionary<string, long>? known)
    {
        if (graphInputs.Count != values.Count)
        {
            throw new ArgumentException($"graph takes {graphInputs.Count} inputs ({string.Join(", ", graphInputs.Select(Name))}) but {values.Count} were given");
        }

        var env = known is null ? new Dictionary<string, long>(StringComparer.Ordinal) : new Dictionary<string, long>(known, StringComparer.Ordinal);
        for (int i = 0; i < values.Count; i++)
        {
            var n = graphInputs[i];
            var v = values[i];
            if (v.DType != n.DType || v.Rank != n.Shape.Rank)
            {
                throw new ArgumentException($"input '{Name(n)}' expects {n.TypeString} but got {v}");
            }

            for (int d = 0; d < v.Rank; d++)
            {
                var dim = n.Shape[d];
                if (!dim.IsConstant && dim.Equals(Dim.Sym(dim.ToString())) && !env.ContainsKey(dim.ToString()))
                {
                    env[dim.ToString()] = v.Shape[d];
                }
            }
        }

        for (int i = 0; i < values.Count; i++)
        {
            var n = graphInputs[i];
            for (int d = 0; d < values[i].Rank; d++)
            {
                long want;
                try
                {
                    want = n.Shape[d].Evaluate(env);
                }
                catch (KeyNotFoundException e)
                {
                    throw new ArgumentException($"input '{Name(n)}': {e.Message}", e);
                }

                if (want != values[i].Shape[d])
                {
                    throw new ArgumentException($"input '{Name(n)}' expects {n.TypeString} (dim {d} = {want}) but got {values[i]}");
                }
            }
        }

        return env;
    }

    private static string Name(Node n) => n.Attrs is InputAttrs a ? a.Name : n.ToString();
}
