using Candle.Runtime.Tensors;

namespace Candle.Torch.Nn;

/// <summary>
/// A non-learned tensor of a module (a registered buffer such as running statistics or a position table): listed by
/// <see cref="Module.NamedBuffers"/> and, when persistent, saved in state dicts.
/// </summary>
public sealed class ModuleBuffer : StateTensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied).</summary>
    public ModuleBuffer(HostTensor data, bool persistent = true, Device? device = null)
        : base(data, device) => Persistent = persistent;

    /// <summary>A buffer holding the data of an eager tensor.</summary>
    public ModuleBuffer(Tensor value, bool persistent = true)
        : base(NotNull(value).ToHostTensor(), value.Device) => Persistent = persistent;

    /// <summary>True when the buffer belongs in state dicts.</summary>
    public bool Persistent { get; }

    private static Tensor NotNull(Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value;
    }
}
