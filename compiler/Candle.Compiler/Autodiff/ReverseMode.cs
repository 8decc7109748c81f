using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// Reverse-mode differentiation as a graph transform: walks the nodes between the differentiated nodes and an output
/// in reverse topological order, applies each op's <see cref="VjpTable"/> rule to the gradient accumulated at that
/// node, and sums the contributions reaching each input. The result is a set of ordinary IR nodes (hash-consed with
/// the forward pass, so activations the rules reuse are shared, not recomputed), which the usual passes and
/// backends compile. Only floating-point nodes carry gradients; integer and bool tensors never do.
/// </summary>
public static class ReverseMode
{
    /// <summary>
    /// The gradients of the scalar (or seeded) <paramref name="output"/> with respect to each of
    /// <paramref name="wrt"/>: zeros of its shape where the output does not depend on it.
    /// </summary>
    /// <param name="output">The value differentiated.</param>
    /// <param name="wrt">Floating-point nodes (inputs, named constants, or any intermediate).</param>
    /// <param name="seed">∂loss/∂output; ones of the output's shape when null.</param>
    /// <exception cref="ArgumentException">A node of <paramref name="wrt"/> is not floating-point, or the seed's type differs from the output's.</exception>
    /// <exception cref="NotSupportedException">An op on the path has no rule.</exception>
    public static IReadOnlyList<Node> Gradients(Node output, IReadOnlyList<Node> wrt, Node? seed = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(wrt);
        foreach (var w in wrt)
        {
            if (!w.DType.IsFloat()) throw new ArgumentException($"autodiff: cannot differentiate with respect to {w} ({w.TypeString}): not floating-point", nameof(wrt));
        }

        var grads = Backpropagate(output, seed ?? Full(1, output.DType, output.Shape), wrt);
        return [.. wrt.Select((w, i) => grads[i] ?? Full(0, w.DType, w.Shape))];
    }

    /// <summary>
    /// A graph with <paramref name="forward"/>'s inputs whose outputs are the forward outputs followed by the
    /// gradient of output <paramref name="lossOutput"/> (a scalar) with respect to each node of
    /// <paramref name="wrt"/>, named <c>grad.{name}</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The loss output is missing or not a scalar, or the names do not match.</exception>
    public static Graph Differentiate(Graph forward, string lossOutput, IReadOnlyList<Node> wrt, IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(wrt);
        ArgumentNullException.ThrowIfNull(names);
        int at = forward.OutputNames.IndexOf(lossOutput);
        if (at < 0) throw new ArgumentException($"autodiff: the graph has no output '{lossOutput}' (outputs: {string.Join(", ", forward.OutputNames)})", nameof(lossOutput));
        var loss = forward.Outputs[at];
        if (loss.Shape.Rank != 0) throw new ArgumentException($"autodiff: output '{lossOutput}' is {loss.TypeString}, not a scalar", nameof(lossOutput));
        if (names.Count != wrt.Count) throw new ArgumentException($"autodiff: {wrt.Count} nodes but {names.Count} names", nameof(names));
        var grads = Gradients(loss, wrt);
        return new Graph(forward.Inputs, [.. forward.Outputs, .. grads], [.. forward.OutputNames, .. names.Select(n => "grad." + n)]);
    }

    /// <summary>The gradients reaching <paramref name="wrt"/> (null where none does).</summary>
    internal static Node?[] Backpropagate(Node output, Node seed, IReadOnlyList<Node> wrt)
    {
        if (seed.DType != output.DType || !seed.Shape.Equals(output.Shape))
        {
            throw new ArgumentException($"autodiff: the seed is {seed.TypeString} but the output is {output.TypeString}", nameof(seed));
        }

        var order = new Graph([], [output]).Nodes;
        var targets = new HashSet<Node>(wrt, ReferenceEqualityComparer.Instance);

        // Forward: the nodes through which a target reaches the output.
        var active = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        foreach (var n in order)
        {
            if (targets.Contains(n) || (n.DType.IsFloat() && n.Inputs.Any(active.Contains))) active.Add(n);
        }

        var result = new Node?[wrt.Count];
        if (!active.Contains(output)) return result;
        var pending = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance) { [output] = seed };
        for (int k = order.Count - 1; k >= 0; k--)
        {
            var n = order[k];
            if (!pending.TryGetValue(n, out var g)) continue;
            if (n.Inputs.Length == 0 || !n.Inputs.Any(active.Contains)) continue;
            var rule = VjpTable.Of(n.Op);
            if (rule is null) continue;
            var inputGrads = rule(n, g);
            if (inputGrads.Length != n.Inputs.Length)
            {
                throw new InvalidOperationException($"autodiff: the rule of {n.Op.Name()} gave {inputGrads.Length} gradients for {n.Inputs.Length} inputs");
            }

            for (int i = 0; i < inputGrads.Length; i++)
            {
                var input = n.Inputs[i];
                var gi = inputGrads[i];
                if (gi is null || !active.Contains(input)) continue;
                if (gi.DType != input.DType || !gi.Shape.Equals(input.Shape))
                {
                    throw new InvalidOperationException(
                        $"autodiff: the rule of {n.Op.Name()} gave a {gi.TypeString} gradient for its input {i} of type {input.TypeString}");
                }

                pending[input] = pending.TryGetValue(input, out var acc) ? Accumulate(acc, gi) : gi;
            }

            if (!targets.Contains(n)) pending.Remove(n);
        }

        for (int i = 0; i < wrt.Count; i++) result[i] = pending.GetValueOrDefault(wrt[i]);
        return result;
    }

    // Sums two gradient contributions. A scatter into zeros (the adjoint of gather and index_select: an embedding's
    // gradient) scatters onto the other contribution instead, scatter_add(a, index, src) for a + scatter_add(0, index,
    // src), which saves filling and adding a tensor as large as the table (for a tied embedding, the vocabulary).
    private static Node Accumulate(Node acc, Node g)
    {
        if (MergeSlices(acc, g) is { } merged) return merged;
        if (IsScatterIntoZeros(g)) return ScatterAdd(acc, g.Attr<AxisAttrs>().Axis, g.Inputs[1], g.Inputs[2]);
        if (IsScatterIntoZeros(acc)) return ScatterAdd(g, acc.Attr<AxisAttrs>().Axis, acc.Inputs[1], acc.Inputs[2]);
        return Binary(Op.Add, acc, g);
    }

    /// <summary>
    /// Two slice_scatters into zeros of adjacent ranges of one axis (the adjoints of slices that split a tensor, such as
    /// a fused qkv projection's q, k and v) as one slice_scatter of their sources' concatenation, or as the
    /// concatenation alone once the ranges cover the axis: a fill and a copy per piece and an add per pair become one
    /// concatenation. Null for any other pair.
    /// </summary>
    private static Node? MergeSlices(Node a, Node b)
    {
        if (SliceIntoZeros(a) is not { } sa || SliceIntoZeros(b) is not { } sb || sa.Axis != sb.Axis) return null;
        Node first, second;
        SliceAttrs firstRange, secondRange;
        if (sa.End.Equals(sb.Start)) (first, firstRange, second, secondRange) = (a, sa, b, sb);
        else if (sb.End.Equals(sa.Start)) (first, firstRange, second, secondRange) = (b, sb, a, sa);
        else return null;
        int axis = firstRange.Axis;
        var parts = new List<Node>();
        foreach (var src in new[] { first.Inputs[1], second.Inputs[1] })
        {
            if (src.Op == Op.Concat && src.Attr<AxisAttrs>().Axis == axis) parts.AddRange(src.Inputs);
            else parts.Add(src);
        }

        var joined = Concat(parts, axis);
        if (firstRange.Start.Equals(Dim.Zero) && secondRange.End.Equals(a.Shape[axis])) return joined;
        return SliceScatter(a.Inputs[0], joined, axis, firstRange.Start);
    }

    /// <summary>The range of a slice_scatter with step 1 into a tensor of zeros, or null.</summary>
    private static SliceAttrs? SliceIntoZeros(Node n) =>
        n.Op == Op.SliceScatter && n.Inputs[0] is { Op: Op.Full } zeros && zeros.Attr<FullAttrs>().Value == 0 && n.Attr<SliceAttrs>() is { Step: 1 } range
            ? range
            : null;

    /// <summary>Whether <paramref name="n"/> is scatter_add into a tensor of zeros of its own shape.</summary>
    internal static bool IsScatterIntoZeros(Node n) =>
        n.Op == Op.ScatterAdd && n.Inputs[0] is { Op: Op.Full } zeros && zeros.Attr<FullAttrs>().Value == 0 && zeros.Shape.Equals(n.Shape);
}
