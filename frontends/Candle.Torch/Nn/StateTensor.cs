using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Torch.Nn;

/// <summary>
/// A tensor owned by a <see cref="Module"/> (a <see cref="Parameter"/> or a <see cref="ModuleBuffer"/>): it holds data that
/// loading a state dict replaces, and its node is a Constant named by its state-dict name, so a traced graph
/// binds weights by name.
/// </summary>
public abstract class StateTensor : Tensor
{
    private HostTensor _data;
    private Node? _node;

    private protected StateTensor(HostTensor data, Device? device)
        : base(null, device ?? Device.Cpu)
    {
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
    }

    /// <summary>The data (shared: replace it with <see cref="SetData"/>, do not mutate it).</summary>
    public HostTensor Data => _data;

    /// <summary>The state-dict name relative to the root module it was last registered under, or null before registration.</summary>
    public string? Name { get; private set; }

    /// <inheritdoc/>
    public override Node Node => _node ??= IrBuilder.Constant(_data, Name);

    /// <summary>Replaces the data; the dtype and shape must stay the same.</summary>
    /// <exception cref="ArgumentException">The new data has another dtype or shape.</exception>
    public void SetData(HostTensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.DType != _data.DType || !data.Shape.SequenceEqual(_data.Shape))
        {
            throw new ArgumentException($"'{Name ?? "tensor"}': new data {data} does not match {_data}", nameof(data));
        }

        _data = data;
        _node = null;
    }

    /// <summary>Replaces the data with any dtype and shape (for converting a module's dtype).</summary>
    internal void ReplaceData(HostTensor data)
    {
        _data = data;
        _node = null;
    }

    internal void MoveTo(Device device) => Device = device;

    internal void SetName(string name)
    {
        if (Name == name) return;
        Name = name;
        _node = null;
    }
}
