namespace Candle.Torch.Nn;

/// <summary>The activation module: x·sigmoid(x) (torch.nn.SiLU).</summary>
public sealed class Silu : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Silu();
    }
}
