using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;

namespace Candle.Compiler.Passes;

/// <summary>
/// Turns primitive subgraphs traced from PyTorch-style code into composite ops the backends have fast kernels
/// for: gelu (erf and tanh forms), sigmoid, silu, softmax, layer norm and RMS norm (with their affine weight
/// and bias), rotate-half rotary embedding and scaled dot-product attention. See <see cref="CompositePatterns"/>.
/// </summary>
public sealed class PatternRecognition : Pass
{
    /// <summary>The rules of this pass (more specific forms first).</summary>
    public static RuleSet Rules { get; } = Build();

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("pattern-recognition", 2);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context) => Rewriter.Rewrite(graph, Rules);

    private static RuleSet Build()
    {
        var any2 = (Op op) => Pattern.Of(op, Pattern.Any(), Pattern.Any());
        var rot = Pattern.Of(
            Op.Concat,
            Pattern.Of(Op.Neg, Pattern.Of(Op.Slice, Pattern.Any("x")).As("hi")),
            Pattern.Of(Op.Slice, Pattern.Any("x")).As("lo")).As("rot");
        return new RuleSet
        {
            new Rule("gelu-erf", any2(Op.Mul), CompositePatterns.Gelu),
            new Rule("gelu-erf-div", any2(Op.Div), CompositePatterns.Gelu),
            new Rule("gelu-tanh", any2(Op.Mul), CompositePatterns.GeluTanh),
            new Rule("gelu-tanh-div", any2(Op.Div), CompositePatterns.GeluTanh),
            new Rule("sigmoid-div", any2(Op.Div), CompositePatterns.Sigmoid),
            new Rule("sigmoid-reciprocal", Pattern.Of(Op.Reciprocal, Pattern.Any()), CompositePatterns.Sigmoid),
            new Rule("silu", any2(Op.Mul), CompositePatterns.Silu),
            new Rule("silu-div", any2(Op.Div), CompositePatterns.Silu),
            new Rule("softmax", any2(Op.Div), CompositePatterns.Softmax),
            new Rule("layer-norm", any2(Op.Mul), CompositePatterns.LayerNorm),
            new Rule("layer-norm-div", any2(Op.Div), CompositePatterns.LayerNorm),
            new Rule("rms-norm", any2(Op.Mul), CompositePatterns.RmsNorm),
            new Rule("rms-norm-div", any2(Op.Div), CompositePatterns.RmsNorm),
            new Rule("norm-weight", any2(Op.Mul), CompositePatterns.NormWeight),
            new Rule("norm-bias", any2(Op.Add), CompositePatterns.NormBias),
            new Rule(
                "rope-rotate-half",
                Pattern.Of(Op.Add, Pattern.Of(Op.Mul, rot, Pattern.Any("sin")), Pattern.Of(Op.Mul, Pattern.Any("x"), Pattern.Any("cos"))),
                CompositePatterns.RotateHalfRope),
            new Rule("attention", any2(Op.MatMul), CompositePatterns.Attention),
        };
    }
}
