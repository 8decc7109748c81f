using System.Collections;
using System.Globalization;

namespace Candle.Torch.Nn;

/// <summary>A list of child modules named "0", "1", ... (torch.nn.ModuleList), such as a transformer's layers.</summary>
/// <typeparam name="T">The module type.</typeparam>
public sealed class ModuleList<T> : Module, IReadOnlyList<T>
    where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>Creates the list.</summary>
    public ModuleList(params T[] modules)
        : this((IEnumerable<T>)modules)
    {
    }

    /// <summary>Creates the list.</summary>
    public ModuleList(IEnumerable<T> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Append(m);
    }

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public T this[int index] => _items[index];

    /// <summary>Appends a module (named by its position); returns this list.</summary>
    public ModuleList<T> Append(T module)
    {
        _items.Add(RegisterModule(_items.Count.ToString(CultureInfo.InvariantCulture), module));
        return this;
    }

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
