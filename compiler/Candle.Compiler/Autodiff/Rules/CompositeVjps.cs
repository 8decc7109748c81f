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
            var sum = Reduce(Op.Sum, g, [axis], keepDim: true);
            return [Sub(g, Mul(Unary(Op.Exp, n), Expand(sum, n.Shape)))];
        });
        t.Add(Op.LayerNorm, ViaPrimitives);
        t.Add(Op.RmsNorm, ViaPrimitives);
        t.Add(Op.GroupNorm, ViaPrimitives);
        t.Add(Op.Rope, ViaPrimitives);
        t.Add(Op.Attention, ViaPrimitives);
        t.Add(Op.Fused, (n, g) =>
        {
            var body = n.Attr<FusedAttrs>().Body;
            var inlined = body.Rewrite(b => b.Op == Op.Input ? n.Inputs[body.Inputs.IndexOf(b)] : null);
            return Through(n, inlined.Outputs[0], g);
        });
    }

    private static Node?[] ViaPrimitives(Node n, Node g) =>
        Through(n, DecomposeComposites.Lower(n) ?? throw new NotSupportedException($"autodiff: {n.Op.Name()} has no primitive form"), g);

    /// <summary>The gradients of <paramref name="n"/>'s inputs through <paramref name="equivalent"/>, a graph over them with n's value.</summary>
    internal static Node?[] Through(Node n, Node equivalent, Node g)
    {
        var grads = ReverseMode.Backpropagate(equivalent, g, n.Inputs);
        for (int i = 0; i < grads.Length; i++)
        {
            // An input listed twice receives its total gradient once.
            if (!n.Inputs[i].DType.IsFloat() || n.Inputs.IndexOf(n.Inputs[i]) != i) grads[i] = null;
        }

        return grads;
    }
}
