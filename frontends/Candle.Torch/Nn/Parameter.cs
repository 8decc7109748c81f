using Candle.Runtime.Tensors;

namespace Candle.Torch.Nn;

/// <summary>A learned tensor of a module (torch.nn.Parameter): listed by <see cref="Module.NamedParameters"/> and saved in state dicts.</summary>
public sealed class Parameter : StateTensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied).</summary>
    public Parameter(HostTensor data, Device? device = null)
        : base(data, device)
    {
    }

    /// <summary>A parameter holding the data of an eager tensor.</summary>
    public Parameter(Tensor value)
        : base(NotNull(value).ToHostTensor(), value.Device)
    {
    }

    private static Tensor NotNull(Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value;
    }
}
