using Candle.Compiler.Autodiff;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Autodiff;

/// <summary>
/// Binary cross-entropy with logits (mean): the loss against −[y·log σ(x) + (1 − y)·log(1 − σ(x))] and the gradient
/// against (σ(x) − y) / N, both computed here by hand in float64, for logits up to ±30 where the naive form would lose
/// everything; finite differences of the reference interpreter's loss; mismatched shapes refused.
/// </summary>
public class BinaryCrossEntropyTests
{
    private static readonly double[] Logits = [-30, -4.5, -0.3, 0, 0.8, 2.2, 7, 30];
    private static readonly double[] Targets = [0, 1, 0.25, 1, 0, 0.5, 1, 0];

    [Fact]
    public void LossAndGradientAreTheTextbookForms()
    {
        var x = Input("x", DType.F64, Shape.Of(2, 4));
        var y = Input("y", DType.F64, Shape.Of(2, 4));
        var loss = Losses.BinaryCrossEntropyWithLogits(x, y);
        var grad = ReverseMode.Gradients(loss, [x])[0]!;
        var outs = ReferenceInterpreter.Run(new Graph([x, y], [loss, grad]), [HostTensor.FromArray(Logits, 2, 4), HostTensor.FromArray(Targets, 2, 4)]);

        double want = 0;
        var wantGrad = new double[8];
        for (int i = 0; i < 8; i++)
        {
            // log σ(x) = −log(1 + e^−x), log(1 − σ(x)) = −log(1 + e^x), each with its exponent's sign chosen so exp cannot overflow.
            double logSigmoid = Logits[i] >= 0 ? -Math.Log(1 + Math.Exp(-Logits[i])) : Logits[i] - Math.Log(1 + Math.Exp(Logits[i]));
            double logOneMinus = Logits[i] >= 0 ? -Logits[i] - Math.Log(1 + Math.Exp(-Logits[i])) : -Math.Log(1 + Math.Exp(Logits[i]));
            want -= ((Targets[i] * logSigmoid) + ((1 - Targets[i]) * logOneMinus)) / 8;
            wantGrad[i] = ((1 / (1 + Math.Exp(-Logits[i]))) - Targets[i]) / 8;
        }

        Assert.Equal(want, outs[0].GetDouble(0), 1e-12);
        var g = outs[1].ToFloat64();
        for (int i = 0; i < 8; i++) Assert.True(Math.Abs(wantGrad[i] - g[i]) <= 1e-9, $"element {i}: {g[i]}, expected {wantGrad[i]}");
    }

    [Fact]
    public void GradientsOfLogitsAndTargetsMatchFiniteDifferences() =>
        GradCheck.Check(v => Losses.BinaryCrossEntropyWithLogits(v[0], v[1]), GradCheck.Random(new Random(4), [3, 5], -3, 3), GradCheck.Random(new Random(5), [3, 5], 0, 1));

    [Fact]
    public void MismatchedShapesAreRefused()
    {
        var e = Assert.Throws<IrException>(() => Losses.BinaryCrossEntropyWithLogits(Input("x", DType.F32, Shape.Of(2, 3)), Input("y", DType.F32, Shape.Of(2))));
        Assert.Contains("binary_cross_entropy_with_logits", e.Message, StringComparison.Ordinal);
    }
}
