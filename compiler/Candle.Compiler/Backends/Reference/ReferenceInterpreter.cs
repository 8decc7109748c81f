using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// The reference interpreter: the executable specification of the IR and the oracle other backends and passes
/// are tested against. Every node is evaluated in <see cref="Graph.Nodes"/> order into a contiguous
/// <see cref="HostTensor"/> of its dtype and concrete shape, with PyTorch's semantics: floats are computed in
/// double and rounded once to the node dtype when stored (so f16 and bf16 round once per op); integers are
/// computed in 64 bits and wrapped to the dtype; bool is 0/1. Values are released after their last use.
/// Thread-safe: it keeps no state between calls.
/// </summary>
/// <remarks>
/// Points where PyTorch's behaviour is subtle, fixed here:
/// <list type="bullet">
/// <item>float → integer casts truncate toward zero; NaN, ±∞ and out-of-range values become long.MinValue, then wrap
/// to the dtype (as <see cref="HostTensor.SetDouble"/>); → bool is x != 0, so NaN is true.</item>
/// <item>floor_div and remainder follow Python (remainder takes the divisor's sign); integer division by zero raises
/// <see cref="DivideByZeroException"/>; an integer to a negative integer power raises <see cref="ArithmeticException"/>.</item>
/// <item>maximum, minimum, max, min and max_pool propagate NaN; argmax/argmin return the first extreme, NaN counting
/// as the extreme; the mean of an empty set is NaN.</item>
/// <item>index_select, gather and scatter_add reject indices outside [0, size) (negative ones included) with an
/// <see cref="ArgumentOutOfRangeException"/> naming the op, the index and the dimension size.</item>
/// <item>attention's causal mask is aligned to the bottom-right corner (key j is hidden from query i when
/// j &gt; i + Sk − Sq); a row whose every score is masked yields NaN, as the math path of PyTorch's
/// scaled_dot_product_attention; softmax of a row of −∞ is NaN likewise.</item>
/// <item>bf16 results round through float32 (as PyTorch's bf16 kernels do); f16 results round directly from double.</item>
/// </list>
/// </remarks>
public static class ReferenceInterpreter
{
    /// <summary>Runs <paramref name="graph"/> on <paramref name="inputs"/> (in <see cref="Graph.Inputs"/> order).</summary>
    /// <returns>One tensor per graph output, in order; outputs never alias the inputs or constants.</returns>
    /// <exception cref="ArgumentException">An input has the wrong count, dtype or shape, or data is invalid for an op
    /// (an index out of range raises <see cref="ArgumentOutOfRangeException"/> naming the op, index and dim size).</exception>
    /// <exception cref="DivideByZeroException">Integer floor_div or remainder by zero (the message names the op).</exception>
    /// <exception cref="ArithmeticException">An integer raised to a negative integer power.</exception>
    public static HostTensor[] Run(Graph graph, IReadOnlyList<HostTensor> inputs) => Run(graph, inputs, null);

    /// <summary>Runs a graph whose shapes may name symbols of an enclosing graph (a fused node's body) with their values.</summary>
    internal static HostTensor[] Run(Graph graph, IReadOnlyList<HostTensor> inputs, IReadOnlyDictionary<string, long>? known)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(inputs);
        var bindings = SymbolBindings.Bind(graph.Inputs, inputs, known);
        var values = new Dictionary<Node, HostTensor>(ReferenceEqualityComparer.Instance);
        var external = new HashSet<HostTensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < graph.Inputs.Length; i++)
        {
            values.TryAdd(graph.Inputs[i], inputs[i]);
            external.Add(inputs[i]);
        }

        var outputs = new HashSet<Node>(graph.Outputs, ReferenceEqualityComparer.Instance);
        var remaining = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            foreach (var i in n.Inputs.Distinct())
            {
                remaining[i] = remaining.GetValueOrDefault(i) + 1;
            }
        }

        foreach (var node in graph.Nodes)
        {
            if (node.Op == Op.Input && !values.ContainsKey(node))
            {
                throw new ArgumentException($"graph uses the input '{InputName(node)}' ({node.TypeString}) but does not list it among its inputs", nameof(graph));
            }

            if (node.Op != Op.Input)
            {
                var args = new HostTensor[node.Inputs.Length];
                for (int i = 0; i < args.Length; i++) args[i] = values[node.Inputs[i]];
                var value = OpDispatcher.Evaluate(new OpCall(node, args, ConcreteShape(node, bindings), bindings));
                if (node.Op == Op.Constant) external.Add(value);
                values[node] = value;
            }

            foreach (var i in node.Inputs.Distinct())
            {
                if (--remaining[i] == 0 && !outputs.Contains(i)) values.Remove(i);
            }
        }

        var result = new HostTensor[graph.Outputs.Length];
        var seen = new HashSet<HostTensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < result.Length; i++)
        {
            var t = values[graph.Outputs[i]];
            result[i] = external.Contains(t) || !seen.Add(t) ? t.Clone() : t;
        }

        return result;
    }

    /// <summary>
    /// Evaluates one node whose leaves are constants, fills or ranges (no graph input), as eager mode and
    /// constant folding need.
    /// </summary>
    /// <exception cref="InvalidOperationException">The node depends on a graph input or on an unbound symbolic dimension.</exception>
    public static HostTensor Evaluate(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var graph = new Graph([], [node]);
        var input = graph.Nodes.FirstOrDefault(n => n.Op == Op.Input);
        if (input is not null)
        {
            throw new InvalidOperationException($"cannot evaluate {node}: it depends on the graph input '{InputName(input)}' ({input.TypeString})");
        }

        return Run(graph, [])[0];
    }

    private static string InputName(Node input) => input.Attrs is InputAttrs a ? a.Name : input.ToString();

    private static int[] ConcreteShape(Node node, IReadOnlyDictionary<string, long> bindings)
    {
        try
        {
            return node.Shape.Evaluate(bindings);
        }
        catch (KeyNotFoundException e)
        {
            throw new InvalidOperationException($"cannot evaluate {node}: {e.Message}", e);
        }
    }
}
