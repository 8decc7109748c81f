namespace Candle.Torch.Nn;

/// <summary>The activation module: max(x, 0) (torch.nn.ReLU).</summary>
public sealed class Relu : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Relu();
    }
}
