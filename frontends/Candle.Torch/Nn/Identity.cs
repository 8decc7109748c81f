namespace Candle.Torch.Nn;

/// <summary>Returns the input unchanged (torch.nn.Identity).</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input;
    }
}
