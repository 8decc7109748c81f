using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// torch.optim.SGD: g ← g + wd·p; with momentum, b ← g at the first step and b ← μ·b + (1 − dampening)·g after,
/// then g ← g + μ·b (nesterov) or g ← b; p ← p − lr·g.
/// </summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates the optimizer (PyTorch's defaults: no momentum, dampening or weight decay).</summary>
    public Sgd(double learningRate, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(learningRate)
    {
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be ≥ 0");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be ≥ 0");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("nesterov momentum requires a momentum and zero dampening", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    /// <summary>μ.</summary>
    public double Momentum { get; }

    /// <summary>The dampening of the momentum buffer's update.</summary>
    public double Dampening { get; }

    /// <summary>The L2 penalty added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<string> StateNames => Momentum > 0 ? ["momentum_buffer"] : [];

    /// <inheritdoc/>
    public override IReadOnlyList<string> ScalarNames => ["lr", "gradient_weight"];

    /// <inheritdoc/>
    /// <remarks>The buffer starts at zero, so weighting the gradient by 1 at the first step makes it equal the gradient, as PyTorch initializes it.</remarks>
    public override double[] Scalars(int step, double lr) => [lr, step == 1 ? 1 : 1 - Dampening];

    /// <inheritdoc/>
    public override (Node Parameter, Node[] State) Update(Node parameter, Node gradient, IReadOnlyList<Node> state, IReadOnlyList<Node> scalars)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(scalars);
        var g = gradient;
        if (WeightDecay != 0) g = Binary(Op.Add, g, Binary(Op.Mul, parameter, WeightDecay));
        Node[] newState = [];
        if (Momentum > 0)
        {
            var buffer = Binary(Op.Add, Binary(Op.Mul, state[0], Momentum), Binary(Op.Mul, g, scalars[1]));
            newState = [buffer];
            g = Nesterov ? Binary(Op.Add, g, Binary(Op.Mul, buffer, Momentum)) : buffer;
        }

        return (Binary(Op.Sub, parameter, Binary(Op.Mul, g, scalars[0])), newState);
    }
}
