namespace Candle.Torch.Nn;

/// <summary>The activation module: tanh x (torch.nn.Tanh).</summary>
public sealed class Tanh : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Tanh();
    }
}
