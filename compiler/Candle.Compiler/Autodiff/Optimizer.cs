using Candle.Compiler.Ir;

namespace Candle.Compiler.Autodiff;

/// <summary>
/// An optimizer's update rule as IR, with PyTorch's definitions: per parameter, the new value and new state from the
/// parameter, its gradient and its state tensors, given per-step scalars the host computes (the learning rate of a
/// schedule, bias corrections) so that one compiled step serves every step.
/// </summary>
public abstract class Optimizer
{
    /// <summary>Creates an optimizer with base learning rate <paramref name="learningRate"/>.</summary>
    protected Optimizer(double learningRate)
    {
        if (!(learningRate >= 0) || double.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "the learning rate must be a finite value ≥ 0");
        LearningRate = learningRate;
    }

    /// <summary>The base learning rate (a schedule scales it).</summary>
    public double LearningRate { get; }

    /// <summary>The names of the state tensors kept per parameter (PyTorch's: <c>exp_avg</c>, <c>momentum_buffer</c>...), each of the parameter's shape, zero at the start.</summary>
    public abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>The names of the per-step scalars the update reads.</summary>
    public abstract IReadOnlyList<string> ScalarNames { get; }

    /// <summary>The scalars of step <paramref name="step"/> (1 for the first) at learning rate <paramref name="lr"/>, in <see cref="ScalarNames"/> order.</summary>
    public abstract double[] Scalars(int step, double lr);

    /// <summary>The new parameter and state of one parameter.</summary>
    /// <param name="parameter">The parameter's value.</param>
    /// <param name="gradient">Its gradient.</param>
    /// <param name="state">Its state tensors, in <see cref="StateNames"/> order.</param>
    /// <param name="scalars">The step's scalars (shape []), in <see cref="ScalarNames"/> order.</param>
    public abstract (Node Parameter, Node[] State) Update(Node parameter, Node gradient, IReadOnlyList<Node> state, IReadOnlyList<Node> scalars);
}
