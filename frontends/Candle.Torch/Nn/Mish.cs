namespace Candle.Torch.Nn;

/// <summary>The activation module mish: x·tanh(softplus(x)) (torch.nn.Mish).</summary>
public sealed class Mish : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Mish(input);
}
