using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using static Candle.Compiler.Autodiff.Rules.Grad;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>
/// Rules of the composite ops. Softmax and log-softmax have closed forms over their output
/// (y·(g − Σ g·y) and g − eʸ·Σ g). Norms, rotary embedding and attention differentiate their primitive form
/// (<see cref="DecomposeComposites.Lower"/>, the same decomposition the compiler lowers them with), so their rule
/// is correct by construction and follows any change to their definition. A fused group differentiates its body.
/// </summary>
internal static class CompositeVjps
{
    public static void Register(VjpTable.Registry t)
    {
        t.Add(Op.Softmax, (n, g) =>
        {
            int axis = n.Attr<AxisAttrs>().Axis;
            var dot = Reduce(Op.Sum, Mul(g, n), [axis], keepDim: true);
            return [Mul(n, Sub(g, Expand(dot, n.Shape)))];
        });
        t.Add(Op.LogSoftmax, (n, g) =>
        {
            int axis = n.Attr<AxisAttrs>().Axis;
            if (ScatterRowSums(g, axis) is { } rowSums)
            {
                // g scatters src into zeros along the axis (cross-entropy: the gather of each row's label): Σ g over the
                // axis is Σ src, and g − eʸ·Σ g is src scattered onto −eʸ·Σ src. One pass over the rows instead of a
                // filled and scattered g, its sum and the difference.
                return [ScatterAdd(Unary(Op.Neg, Mul(Unary(Op.Exp, n), Expand(rowSums, n.Shape))), axis, g.Inputs[1], g.Inputs[2])];
            }

            var sum = Reduce(Op.Sum, g, [axis], keepDim: true);
            return [Sub(g, Mul(Unary(Op.Exp, n), Expand(sum, n.Shape)))];
        });
        t.Add(Op.LayerNorm, ViaPrimitives);
        t.Add(Op.RmsNorm, ViaPrimitives);
        t.Add(Op.GroupNorm, ViaPrimitives);
        t.Add(Op.Rope, ViaPrimitives);
        t.Add(Op.Attention, ViaPrimitives);
        t.Add(Op.Fused, (n, g) => Through(n, inputs =>
        {
            var a = n.Attr<FusedAttrs>();
            return a.Body.Rewrite(b => b.Op == Op.Input ? inputs[a.Body.Inputs.IndexOf(b)] : null).Outputs[a.Output];
        }, g));
    }

    /// <summary>
    /// Σ <paramref name="g"/> over <paramref name="axis"/> (kept) when g is scatter_add(zeros, axis, index, src) whose
    /// index and src match g in every other dimension: every src element lands in its own row, so the row sums are
    /// src's. Null for any other g.
    /// </summary>
    private static Node? ScatterRowSums(Node g, int axis)
    {
        if (!ReverseMode.IsScatterIntoZeros(g) || g.Attr<AxisAttrs>().Axis != axis) return null;
        var src = g.Inputs[2];
        for (int d = 0; d < g.Shape.Rank; d++)
        {
            if (d != axis && !src.Shape[d].Equals(g.Shape[d])) return null;
        }

        return src.Shape[axis].Equals(Dim.One) ? src : Reduce(Op.Sum, src, [axis], keepDim: true);
    }

    private static Node?[] ViaPrimitives(Node n, Node g) =>
        Through(n, inputs => DecomposeComposites.Lower(n.WithInputs([.. inputs])) ?? throw new NotSupportedException($"autodiff: {n.Op.Name()} has no primitive form"), g);

    private static long s_placeholders;

    /// <summary>
    /// The gradients of <paramref name="n"/>'s inputs through <paramref name="equivalent"/>, a function building a
    /// graph with n's value from its inputs. The function is applied to placeholders (so that builder folds, such as
    /// a permute of a permute, cannot bypass an input), differentiated, and the placeholders replaced by the inputs.
    /// </summary>
    internal static Node?[] Through(Node n, Func<IReadOnlyList<Node>, Node> equivalent, Node g)
    {
        long id = Interlocked.Increment(ref s_placeholders);
        var placeholders = n.Inputs.Select((x, i) => Input($"vjp{id}.{i}", x.DType, x.Shape)).ToArray();
        var grads = ReverseMode.Backpropagate(equivalent(placeholders), g, placeholders);
        var map = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < placeholders.Length; i++) map[placeholders[i]] = n.Inputs[i];
        var result = new Node?[grads.Length];
        for (int i = 0; i < grads.Length; i++)
        {
            // An input listed twice receives its total gradient once.
            if (grads[i] is null || !n.Inputs[i].DType.IsFloat()) continue;
            int first = n.Inputs.IndexOf(n.Inputs[i]);
            var gi = Substitute(grads[i]!, map);
            result[first] = result[first] is { } acc ? Add(acc, gi) : gi;
        }

        return result;
    }

    private static Node Substitute(Node root, Dictionary<Node, Node> map)
    {
        if (map.TryGetValue(root, out var done)) return done;
        var order = new Graph([], [root]).Nodes;
        foreach (var node in order)
        {
            if (map.ContainsKey(node)) continue;
            map[node] = node.WithInputs([.. node.Inputs.Select(i => map[i])]);
        }

        return map[root];
    }
}
