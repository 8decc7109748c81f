using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Autodiff.Rules.Grad;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>
/// Rules of the elementwise ops (unary, binary, where), in the order of <see cref="Op"/>. Inputs of a binary op
/// share their shape (the builder made broadcasting explicit with expand, whose rule sums back), so each rule is
/// pointwise. Where PyTorch defines a subgradient at a kink it is the one used: relu and abs give 0 at 0, maximum
/// and minimum split a tie evenly, rounding ops and comparisons pass no gradient.
/// </summary>
internal static class ElementwiseVjps
{
    private static readonly double SqrtHalf = Math.Sqrt(0.5);
    private static readonly double InvSqrt2Pi = 1 / Math.Sqrt(2 * Math.PI);
    private static readonly double TwoOverSqrtPi = 2 / Math.Sqrt(Math.PI);
    private static readonly double SqrtTwoOverPi = Math.Sqrt(2 / Math.PI);

    public static void Register(VjpTable.Registry t)
    {
        // ---- unary
        t.Add(Op.Neg, (n, g) => [Neg(g)]);
        t.Add(Op.Abs, (n, g) => [Mul(g, Unary(Op.Sign, n.Inputs[0]))]);
        t.Add(Op.Exp, (n, g) => [Mul(g, n)]);
        t.Add(Op.Log, (n, g) => [Div(g, n.Inputs[0])]);
        t.Add(Op.Sqrt, (n, g) => [Div(Mul(g, 0.5), n)]);
        t.Add(Op.Rsqrt, (n, g) => [Mul(Mul(g, -0.5), Mul(n, Mul(n, n)))]);
        t.Add(Op.Sin, (n, g) => [Mul(g, Unary(Op.Cos, n.Inputs[0]))]);
        t.Add(Op.Cos, (n, g) => [Neg(Mul(g, Unary(Op.Sin, n.Inputs[0])))]);
        t.Add(Op.Tanh, (n, g) => [Mul(g, Binary(Op.Sub, 1.0, Mul(n, n)))]);
        t.Add(Op.Sigmoid, (n, g) => [Mul(g, Mul(n, Binary(Op.Sub, 1.0, n)))]);
        t.Add(Op.Relu, (n, g) => [Where(Binary(Op.Gt, n.Inputs[0], 0.0), g, Zeros(g))]);
        t.Add(Op.Gelu, (n, g) =>
        {
            var x = n.Inputs[0];
            var cdf = Mul(Binary(Op.Add, Unary(Op.Erf, Mul(x, SqrtHalf)), 1.0), 0.5);
            var pdf = Mul(Unary(Op.Exp, Mul(Mul(x, x), -0.5)), InvSqrt2Pi);
            return [Mul(g, Add(cdf, Mul(x, pdf)))];
        });
        t.Add(Op.GeluTanh, (n, g) =>
        {
            var x = n.Inputs[0];
            var x2 = Mul(x, x);
            var inner = Mul(Add(x, Mul(Mul(x2, x), 0.044715)), SqrtTwoOverPi);
            var th = Unary(Op.Tanh, inner);
            var dInner = Mul(Binary(Op.Add, Mul(x2, 3 * 0.044715), 1.0), SqrtTwoOverPi);
            var d = Add(Mul(Binary(Op.Add, th, 1.0), 0.5), Mul(Mul(Mul(x, 0.5), Binary(Op.Sub, 1.0, Mul(th, th))), dInner));
            return [Mul(g, d)];
        });
        t.Add(Op.Silu, (n, g) =>
        {
            var x = n.Inputs[0];
            var s = Unary(Op.Sigmoid, x);
            return [Mul(g, Mul(s, Binary(Op.Add, Mul(x, Binary(Op.Sub, 1.0, s)), 1.0)))];
        });
        t.Add(Op.Erf, (n, g) =>
        {
            var x = n.Inputs[0];
            return [Mul(g, Mul(Unary(Op.Exp, Neg(Mul(x, x))), TwoOverSqrtPi))];
        });
        t.None(Op.Floor, Op.Ceil, Op.Round, Op.Sign);
        t.Add(Op.Reciprocal, (n, g) => [Neg(Mul(g, Mul(n, n)))]);
        t.None(Op.LogicalNot);
        t.Add(Op.Softplus, (n, g) =>
        {
            var x = n.Inputs[0];
            return [Mul(g, Where(Binary(Op.Gt, x, 20.0), Full(1, x.DType, x.Shape), Unary(Op.Sigmoid, x)))];
        });
        t.Add(Op.Mish, (n, g) =>
        {
            var x = n.Inputs[0];
            var th = Unary(Op.Tanh, Unary(Op.Softplus, x));
            var dsp = Where(Binary(Op.Gt, x, 20.0), Full(1, x.DType, x.Shape), Unary(Op.Sigmoid, x));
            return [Mul(g, Add(th, Mul(Mul(x, Binary(Op.Sub, 1.0, Mul(th, th))), dsp)))];
        });
        t.Add(Op.Cast, (n, g) => [n.Inputs[0].DType.IsFloat() && n.DType.IsFloat() ? Cast(g, n.Inputs[0].DType) : null]);

        // ---- binary
        t.Add(Op.Add, (n, g) => [g, g]);
        t.Add(Op.Sub, (n, g) => [g, Neg(g)]);
        t.Add(Op.Mul, (n, g) => [Mul(g, n.Inputs[1]), Mul(g, n.Inputs[0])]);
        t.Add(Op.Div, (n, g) =>
        {
            var b = n.Inputs[1];
            var ga = Div(g, b);
            return [ga, Neg(Mul(ga, n))];
        });
        t.None(Op.FloorDiv);
        t.Add(Op.Remainder, (n, g) => [g, Neg(Mul(g, Binary(Op.FloorDiv, n.Inputs[0], n.Inputs[1])))]);
        t.Add(Op.Pow, (n, g) =>
        {
            var (a, b) = (n.Inputs[0], n.Inputs[1]);
            var ga = Mul(g, Mul(b, Binary(Op.Pow, a, Binary(Op.Sub, b, 1.0))));
            var logA = Where(Binary(Op.Eq, a, 0.0), Zeros(a), Unary(Op.Log, a));
            return [ga, Mul(g, Mul(n, logA))];
        });
        t.Add(Op.Maximum, (n, g) => MinMax(n, g, Op.Gt));
        t.Add(Op.Minimum, (n, g) => MinMax(n, g, Op.Lt));
        t.None(Op.Eq, Op.Ne, Op.Lt, Op.Le, Op.Gt, Op.Ge, Op.LogicalAnd, Op.LogicalOr);

        // ---- ternary
        t.Add(Op.Where, (n, g) =>
        {
            var c = n.Inputs[0];
            var z = Zeros(g);
            return [null, Where(c, g, z), Where(c, z, g)];
        });
    }

    /// <summary>The winner takes the gradient; a tie splits it evenly (PyTorch's rule).</summary>
    private static Node?[] MinMax(Node n, Node g, Op wins)
    {
        var (a, b) = (n.Inputs[0], n.Inputs[1]);
        var tie = Mul(AsFloat(Binary(Op.Eq, a, b), g), 0.5);
        var wa = Add(AsFloat(Binary(wins, a, b), g), tie);
        var wb = Add(AsFloat(Binary(wins, b, a), g), tie);
        return [Mul(g, wa), Mul(g, wb)];
    }
}
