namespace Candle.Torch.Nn;

/// <summary>The activation module softplus: ln(1 + e^(β·x))/β, linear above the threshold (torch.nn.Softplus).</summary>
public sealed class Softplus : Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    /// <param name="beta">β.</param>
    /// <param name="threshold">Above β·x = threshold the result is x.</param>
    public Softplus(double beta = 1, double threshold = 20)
    {
        Beta = beta;
        Threshold = threshold;
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>The threshold of β·x above which the result is x.</summary>
    public double Threshold { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Softplus(input, Beta, Threshold);
}
