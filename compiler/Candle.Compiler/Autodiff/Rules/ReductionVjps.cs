using Candle.Compiler.Ir;
using static Candle.Compiler.Autodiff.Rules.Grad;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>
/// Rules of the reductions and the prefix sum. Max and min (PyTorch's amax/amin) share the gradient evenly among
/// the elements equal to the extreme; prod divides the product by each factor (zeros in the input are not handled
/// specially); argmax and argmin pass none.
/// </summary>
internal static class ReductionVjps
{
    public static void Register(VjpTable.Registry t)
    {
        t.Add(Op.Sum, (n, g) => [Unreduce(g, n.Inputs[0], n.Attr<ReduceAttrs>().Axes)]);
        t.Add(Op.Mean, (n, g) =>
        {
            var x = n.Inputs[0];
            var axes = n.Attr<ReduceAttrs>().Axes;
            return [Unreduce(Div(g, Count(x, axes)), x, axes)];
        });
        t.Add(Op.Max, Extreme);
        t.Add(Op.Min, Extreme);
        t.Add(Op.Prod, (n, g) =>
        {
            var x = n.Inputs[0];
            var axes = n.Attr<ReduceAttrs>().Axes;
            return [Div(Mul(Unreduce(g, x, axes), Unreduce(n, x, axes)), x)];
        });
        t.None(Op.ArgMax, Op.ArgMin);
        t.Add(Op.CumSum, (n, g) =>
        {
            int axis = n.Attr<AxisAttrs>().Axis;
            return [Flip(CumSum(Flip(g, axis), axis), axis)];
        });
    }

    private static Node?[] Extreme(Node n, Node g)
    {
        var x = n.Inputs[0];
        var axes = n.Attr<ReduceAttrs>().Axes;
        var mask = AsFloat(Binary(Op.Eq, x, Unreduce(n, x, axes)), x);
        var count = Reduce(Op.Sum, mask, axes, keepDim: true);
        return [Div(Mul(mask, Unreduce(g, x, axes)), Expand(count, x.Shape))];
    }
}
