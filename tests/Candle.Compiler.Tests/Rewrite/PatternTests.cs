using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Rewrite;

public class PatternTests
{
    private static readonly Node X = Input("x", DType.F32, Shape.Of(4));
    private static readonly Node Y = Input("y", DType.F32, Shape.Of(4));

    [Fact]
    public void CommutativeOpsMatchEitherOperandOrder()
    {
        var p = Pattern.Of(Op.Mul, Pattern.Any("x"), Pattern.Of(Op.Sigmoid, Pattern.Any("x")));
        var n1 = Binary(Op.Mul, X, Unary(Op.Sigmoid, X));
        var n2 = Binary(Op.Mul, Unary(Op.Sigmoid, X), X);
        Assert.True(p.TryMatch(n1, out var m1));
        Assert.True(p.TryMatch(n2, out var m2));
        Assert.Same(X, m1["x"]);
        Assert.Same(X, m2["x"]);
    }

    [Fact]
    public void NonCommutativeOpsMatchInOrderOnly()
    {
        var p = Pattern.Of(Op.Sub, Pattern.Any("a"), Pattern.Of(Op.Neg, Pattern.Any("b")));
        Assert.True(p.TryMatch(Binary(Op.Sub, X, Unary(Op.Neg, Y)), out _));
        Assert.False(p.TryMatch(Binary(Op.Sub, Unary(Op.Neg, Y), X), out _));
    }

    [Fact]
    public void RepeatedCaptureNameRequiresTheSameNode()
    {
        var p = Pattern.Of(Op.Sub, Pattern.Any("x"), Pattern.Any("x"));
        Assert.True(p.TryMatch(Binary(Op.Sub, X, X), out _));
        Assert.False(p.TryMatch(Binary(Op.Sub, X, Y), out _));
    }

    [Fact]
    public void NestedCommutativeChoicesBacktrack()
    {
        // The inner mul must be matched swapped for the outer capture to agree.
        var p = Pattern.Of(Op.Add, Pattern.Of(Op.Mul, Pattern.Any("x"), Pattern.Any("y")), Pattern.Of(Op.Neg, Pattern.Any("y")));
        var n = Binary(Op.Add, Binary(Op.Mul, X, Y), Unary(Op.Neg, X));
        Assert.True(p.TryMatch(n, out var m));
        Assert.Same(Y, m["x"]);
        Assert.Same(X, m["y"]);
    }

    [Fact]
    public void GroupDtypeAndPredicateFilter()
    {
        var unary = Pattern.OfGroup(op => op.IsUnary(), "unary", Pattern.Any()).WithDType(DType.F32);
        Assert.True(unary.TryMatch(Unary(Op.Exp, X), out _));
        Assert.False(unary.TryMatch(Binary(Op.Add, X, Y), out _));
        Assert.False(unary.TryMatch(Cast(X, DType.F64), out _));
        var one = Pattern.Full(1.0);
        Assert.True(one.TryMatch(Full(1, DType.F32, Shape.Of(4)), out _));
        Assert.False(one.TryMatch(Full(2, DType.F32, Shape.Of(4)), out _));
        Assert.Contains("full(1)", Pattern.Of(Op.Mul, Pattern.Any("x"), one).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void RuleSetIndexesByRootOp()
    {
        var rules = new RuleSet
        {
            new Rule("exp-rule", Pattern.Of(Op.Exp, Pattern.Any()), _ => null),
            new Rule("any-rule", Pattern.Any(), _ => null),
        };
        Assert.Equal(["exp-rule", "any-rule"], rules.Candidates(Op.Exp).Select(r => r.Name));
        Assert.Equal(["any-rule"], rules.Candidates(Op.Log).Select(r => r.Name));
        Assert.Throws<ArgumentException>(() => rules.Add(new Rule("exp-rule", Pattern.Any(), _ => null)));
    }
}
