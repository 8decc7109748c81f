using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Rewrite;

public class RewriterTests
{
    private static readonly Node X = Input("x", DType.F32, Shape.Of(4));
    private static readonly Node Y = Input("y", DType.F32, Shape.Of(4));

    [Fact]
    public void RewritesBottomUpToAFixedPoint()
    {
        // neg(neg(neg(neg(x)))) needs the rule at two levels; exp(neg(neg(x))) needs it below another op.
        var rules = new RuleSet { new Rule("neg-neg", Pattern.Of(Op.Neg, Pattern.Of(Op.Neg, Pattern.Any("x"))), m => m["x"]) };
        var n4 = Unary(Op.Neg, Unary(Op.Neg, Unary(Op.Neg, Unary(Op.Neg, X))));
        var g = new Graph([X], [n4, Unary(Op.Exp, Unary(Op.Neg, Unary(Op.Neg, X)))]);
        var fired = new Dictionary<string, int>();
        var r = Rewriter.Rewrite(g, rules, fired: fired);
        Assert.Same(X, r.Outputs[0]);
        Assert.Same(Unary(Op.Exp, X), r.Outputs[1]);
        Assert.Equal(2, fired["neg-neg"]); // neg(neg(x)) is one hash-consed node, rewritten once
    }

    [Fact]
    public void ReturnsTheSameGraphWhenNothingFires()
    {
        var rules = new RuleSet { new Rule("never", Pattern.Of(Op.Log, Pattern.Any()), m => null) };
        var g = new Graph([X], [Unary(Op.Exp, X)]);
        Assert.Same(g, Rewriter.Rewrite(g, rules));
    }

    [Fact]
    public void LoopGuardNamesTheRulesThatKeepFiring()
    {
        var rules = new RuleSet
        {
            new Rule("add-to-mul", Pattern.Of(Op.Add, Pattern.Any("a"), Pattern.Any("b")), m => Node.Create(Op.Mul, null, m["a"], m["b"])),
            new Rule("mul-to-add", Pattern.Of(Op.Mul, Pattern.Any("a"), Pattern.Any("b")), m => Node.Create(Op.Add, null, m["a"], m["b"])),
        };
        var g = new Graph([X, Y], [Binary(Op.Add, X, Y)]);
        var ex = Assert.Throws<RewriteLoopException>(() => Rewriter.Rewrite(g, rules, maxIterations: 10));
        Assert.Contains("add-to-mul", ex.Message, StringComparison.Ordinal);
        Assert.Contains("mul-to-add", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["add-to-mul", "mul-to-add"], ex.Rules);
    }

    [Fact]
    public void LoopGuardAlsoCatchesSweepLevelLoops()
    {
        // Each sweep wraps the output in one more exp-of-log... (a rule that always creates a new, different node).
        int k = 0;
        var rules = new RuleSet
        {
            new Rule("grow", Pattern.Of(Op.Exp, Pattern.Any("a")).Where(n => n.Inputs[0].Op != Op.Exp), m => Unary(Op.Exp, Unary(Op.Abs, Binary(Op.Add, m["a"], ++k)))),
        };
        var g = new Graph([X], [Unary(Op.Exp, X)]);
        var ex = Assert.Throws<RewriteLoopException>(() => Rewriter.Rewrite(g, rules, maxIterations: 5));
        Assert.Contains("grow", ex.Rules);
    }

    [Fact]
    public void ARuleThatChangesTheTypeIsRejectedByName()
    {
        var rules = new RuleSet { new Rule("bad-cast", Pattern.Of(Op.Exp, Pattern.Any("a")), m => Cast(m["a"], DType.F64)) };
        var g = new Graph([X], [Unary(Op.Exp, X)]);
        var ex = Assert.Throws<IrException>(() => Rewriter.Rewrite(g, rules));
        Assert.Contains("bad-cast", ex.Message, StringComparison.Ordinal);
    }
}
