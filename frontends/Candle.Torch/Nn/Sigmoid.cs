namespace Candle.Torch.Nn;

/// <summary>The activation module: 1/(1+e⁻ˣ) (torch.nn.Sigmoid).</summary>
public sealed class Sigmoid : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Sigmoid();
    }
}
