namespace Candle.Torch.Nn;

/// <summary>The activation module GELU (torch.nn.GELU); <see cref="Approximate"/> is "none" or "tanh".</summary>
public sealed class Gelu : Module<Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public Gelu(string approximate = "none")
    {
        if (approximate is not ("none" or "tanh")) throw new ArgumentException($"GELU: approximate must be 'none' or 'tanh', got '{approximate}'", nameof(approximate));
        Approximate = approximate;
    }

    /// <summary>"none" (exact erf form) or "tanh".</summary>
    public string Approximate { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Gelu(input, Approximate);
}
