using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;
using static Candle.Compiler.Autodiff.Rules.Grad;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>
/// Rules of the composite ops. Softmax and log-softmax have closed forms over their output
/// (y·(g − Σ g·y) and g − eʸ·Σ g). Layer norm and RMS norm have closed forms over the normalized input x̂ (see
/// <see cref="LayerNormGradients"/>), which take fewer kernels than their differentiated primitive form. Group norm,
/// rotary embedding and attention differentiate their primitive form (<see cref="DecomposeComposites.Lower"/>, the
/// same decomposition the compiler lowers them with), so their rule is correct by construction and follows any change
/// to their definition; attention's with its softmax as the op (<see cref="WithSoftmaxOp"/>), whose closed form
/// reuses the probabilities. A fused group differentiates its body.
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
        t.Add(Op.LayerNorm, LayerNormGradients);
        t.Add(Op.RmsNorm, LayerNormGradients);
        t.Add(Op.GroupNorm, ViaPrimitives);
        t.Add(Op.Rope, ViaPrimitives);
        t.Add(Op.Attention, (n, g) => Through(n, inputs => WithSoftmaxOp(DecomposeComposites.Lower(n.WithInputs([.. inputs]))!), g));
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

    /// <summary>
    /// The closed form of layer norm and RMS norm over the normalized axes (the last <c>NormalizedDims</c> of layer
    /// norm, the last of RMS norm; n elements), in the input's dtype as their primitive form computes. With
    /// x̂ = (x − mean x)·rstd, rstd = 1/√(var x + eps) (layer norm) or x̂ = x·r, r = 1/√(mean x² + eps) (RMS norm),
    /// y = x̂·w + b and gw = g·w (g without a weight):
    /// dx = rstd·(gw − mean gw − x̂·mean(gw·x̂)) (RMS norm: r·(gw − x̂·mean(gw·x̂))), dw = Σ g·x̂ and db = Σ g over the
    /// leading axes. x̂ is the norm without weight and bias, so a backend with a norm kernel computes it in one call.
    /// </summary>
    private static Node?[] LayerNormGradients(Node n, Node g)
    {
        var a = n.Attr<NormAttrs>();
        var x = n.Inputs[0];
        int r = x.Shape.Rank;
        bool centered = n.Op == Op.LayerNorm;
        int k = centered ? a.NormalizedDims : 1;
        int[] axes = [.. Enumerable.Range(r - k, k)];
        Node Mean(Node v) => Reduce(Op.Mean, v, axes, keepDim: true);

        // The statistics as DecomposeComposites builds them, so that a backend lowering the norm shares them.
        var xc = centered ? Sub(x, Mean(x)) : x;
        var rstd = Unary(Op.Rsqrt, Binary(Op.Add, Mean(Mul(xc, xc)), a.Eps));
        var xhat = centered ? LayerNorm(x, null, null, a.Eps, k) : RmsNorm(x, null, a.Eps);
        var w = a.HasWeight ? n.Inputs[1] : null;
        var gw = w is null ? g : Mul(g, w);
        var inner = Mul(xhat, Mean(Mul(gw, xhat)));
        var dx = Mul(rstd, centered ? Sub(Sub(gw, Mean(gw)), inner) : Sub(gw, inner));
        var result = new Node?[n.Inputs.Length];
        result[0] = dx;
        if (w is not null) result[1] = SumTo(Mul(g, xhat), w.Shape);
        if (a.HasBias) result[a.HasWeight ? 2 : 1] = SumTo(g, n.Inputs[^1].Shape);
        return result;
    }

    /// <summary>
    /// Attention's primitive form softmax(scores)·v with the softmax as the op (its closed-form rule) instead of its
    /// primitives exp(s − max s) / Σ exp(s − max s).
    /// </summary>
    private static Node WithSoftmaxOp(Node product)
    {
        var div = product.Inputs[0];
        if (product.Op != Op.MatMul || div.Op != Op.Div || div.Inputs[0] is not { Op: Op.Exp } e || e.Inputs[0] is not { Op: Op.Sub } shifted)
        {
            throw new InvalidOperationException("autodiff: attention's primitive form is not softmax(scores)·v");
        }

        return product.WithInputs([Softmax(shifted.Inputs[0], product.Shape.Rank - 1), product.Inputs[1]]);
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
