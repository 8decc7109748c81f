using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// torch.optim.Adam (and, with <see cref="Decoupled"/>, AdamW): the weight decay is added to the gradient (Adam) or
/// shrinks the parameter by lr·wd first (AdamW); m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε).
/// </summary>
public class Adam : Optimizer
{
    /// <summary>Creates Adam (PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, no weight decay).</summary>
    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(learningRate, beta1, beta2, eps, weightDecay, decoupled: false)
    {
    }

    /// <summary>Creates Adam or AdamW.</summary>
    protected Adam(double learningRate, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
        : base(learningRate)
    {
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "β₁ must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β₂ must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "ε must be ≥ 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be ≥ 0");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        Decoupled = decoupled;
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Eps { get; }

    /// <summary>The weight decay.</summary>
    public double WeightDecay { get; }

    /// <summary>True for AdamW's decoupled weight decay.</summary>
    public bool Decoupled { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<string> StateNames => ["exp_avg", "exp_avg_sq"];

    /// <inheritdoc/>
    public override IReadOnlyList<string> ScalarNames => ["lr", "step_size", "bias_correction2_sqrt"];

    /// <inheritdoc/>
    public override double[] Scalars(int step, double lr) =>
        [lr, lr / (1 - Math.Pow(Beta1, step)), Math.Sqrt(1 - Math.Pow(Beta2, step))];

    /// <inheritdoc/>
    public override (Node Parameter, Node[] State) Update(Node parameter, Node gradient, IReadOnlyList<Node> state, IReadOnlyList<Node> scalars)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(scalars);
        var p = parameter;
        var g = gradient;
        if (WeightDecay != 0)
        {
            if (Decoupled) p = Binary(Op.Mul, p, Binary(Op.Sub, 1.0, Binary(Op.Mul, scalars[0], WeightDecay)));
            else g = Binary(Op.Add, g, Binary(Op.Mul, p, WeightDecay));
        }

        var m = Binary(Op.Add, Binary(Op.Mul, state[0], Beta1), Binary(Op.Mul, g, 1 - Beta1));
        var v = Binary(Op.Add, Binary(Op.Mul, state[1], Beta2), Binary(Op.Mul, Binary(Op.Mul, g, g), 1 - Beta2));
        var denom = Binary(Op.Add, Binary(Op.Div, Unary(Op.Sqrt, v), scalars[2]), Eps);
        var next = Binary(Op.Sub, p, Binary(Op.Mul, Binary(Op.Div, m, denom), scalars[1]));
        return (next, [m, v]);
    }
}
