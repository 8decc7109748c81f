using System.Collections;
using System.Globalization;

namespace Candle.Torch.Nn;

/// <summary>Runs modules one after another (torch.nn.Sequential); children are named "0", "1", ...</summary>
public sealed class Sequential : Module<Tensor, Tensor>, IReadOnlyList<Module<Tensor, Tensor>>
{
    private readonly List<Module<Tensor, Tensor>> _layers = [];

    /// <summary>Creates the sequence.</summary>
    public Sequential(params Module<Tensor, Tensor>[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var l in layers) Append(l);
    }

    /// <inheritdoc/>
    public int Count => _layers.Count;

    /// <inheritdoc/>
    public Module<Tensor, Tensor> this[int index] => _layers[index];

    /// <summary>Appends a module (named by its position); returns this sequence.</summary>
    public Sequential Append(Module<Tensor, Tensor> layer)
    {
        _layers.Add(RegisterModule(_layers.Count.ToString(CultureInfo.InvariantCulture), layer));
        return this;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var l in _layers) x = l.Forward(x);
        return x;
    }

    /// <inheritdoc/>
    public IEnumerator<Module<Tensor, Tensor>> GetEnumerator() => _layers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
