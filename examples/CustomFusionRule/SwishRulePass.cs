using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Compiler.Rewrite;

namespace CustomFusionRule;

/// <summary>
/// A user pass made of one rewrite rule: the hand-written swish <c>x * (1 / (1 + exp(-x)))</c>, in any operand
/// order, becomes the composite <c>silu(x)</c>, which the CPU backend emits as one vectorized kernel.
/// </summary>
public sealed class SwishRulePass : IPass
{
    private static readonly RuleSet Rules = new()
    {
        new Rule(
            "hand-written-swish",
            Pattern.Of(
                Op.Mul,
                Pattern.Any("x"),
                Pattern.Of(
                    Op.Div,
                    Pattern.Any().Where(n => NodeFacts.IsUniform(n, 1)),
                    Pattern.Of(Op.Add, Pattern.Of(Op.Exp, Pattern.Of(Op.Neg, Pattern.Any("x"))), Pattern.Any().Where(n => NodeFacts.IsUniform(n, 1))))),
            m => Node.Create(Op.Silu, null, m["x"])),
    };

    public PassInfo Info { get; } = new("swish-to-silu", 2);

    public Graph Run(Graph graph, PassContext context) => Rewriter.Rewrite(graph, Rules);
}
