namespace Candle.Torch.Nn;

/// <summary>
/// Dropout (torch.nn.Dropout): <see cref="F.Dropout"/> with this module's <see cref="Module.Training"/> mode, the
/// identity in eval mode.
/// </summary>
public sealed class Dropout : Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Dropout(double p = 0.5)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1]");
        P = p;
    }

    /// <summary>The drop probability in training (unused in eval mode).</summary>
    public double P { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Dropout(input, P, Training);
}
