namespace Candle.Transformers.Chat.Templates;

/// <summary>A Python dict: insertion-ordered, keys compared the Python way (1 == 1.0 == True).</summary>
internal sealed class JinjaDict
{
    private readonly OrderedDictionary<object, object?> _items = new(PyKeyComparer.Instance);

    public int Count => _items.Count;

    public IEnumerable<object> Keys => _items.Keys;

    public IEnumerable<object?> Values => _items.Values;

    public IEnumerable<KeyValuePair<object, object?>> Items => _items;

    public bool TryGet(object? key, out object? value)
    {
        if (key is null)
        {
            value = null;
            return false;
        }

        return _items.TryGetValue(key, out value);
    }

    public bool ContainsKey(object? key) => key is not null && _items.ContainsKey(key);

    public void Set(object key, object? value) => _items[key] = value;

    private sealed class PyKeyComparer : IEqualityComparer<object>
    {
        public static readonly PyKeyComparer Instance = new();

        public new bool Equals(object? x, object? y) => PyOps.Equal(x, y);

        public int GetHashCode(object obj) => obj switch
        {
            bool b => b ? 1 : 0,
            long l => l.GetHashCode(),
            double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
            string s => StringComparer.Ordinal.GetHashCode(s),
            _ => obj.GetHashCode(),
        };
    }
}
