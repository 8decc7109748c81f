namespace Candle.Transformers.Chat.Templates;

/// <summary>The <c>loop</c> variable of a for loop: index/index0/revindex/revindex0/first/last/length/depth/depth0, previtem/nextitem, <c>cycle(...)</c>, <c>changed(...)</c>, and calling it for recursive loops.</summary>
internal sealed class JinjaLoop : IJinjaCallable
{
    private readonly List<object?> _items;
    private readonly Func<object?, int, string>? _recurse;
    private object?[]? _lastChanged;

    public JinjaLoop(List<object?> items, int depth0, Func<object?, int, string>? recurse)
    {
        _items = items;
        Depth0 = depth0;
        _recurse = recurse;
    }

    public int Index0 { get; set; }

    public int Depth0 { get; }

    public string Name => "loop";

    public object? Call(JinjaArgs args)
    {
        if (_recurse is null) throw new TemplateException("the loop is not recursive: declare it 'recursive' to call loop(...)");
        return _recurse(args.Get(0, "iterable"), Depth0 + 1);
    }

    public object? GetAttribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex" => (long)(_items.Count - Index0),
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth0" => (long)Depth0,
        "depth" => (long)Depth0 + 1,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new JinjaUndefined("there is no previous item"),
        "nextitem" => Index0 + 1 < _items.Count ? _items[Index0 + 1] : new JinjaUndefined("there is no next item"),
        "cycle" => new BuiltinFunction("loop.cycle", a =>
        {
            if (a.Positional.Count == 0) throw new TemplateException("no items for cycling given");
            return a.Positional[Index0 % a.Positional.Count];
        }),
        "changed" => new BuiltinFunction("loop.changed", a =>
        {
            var now = a.Positional.ToArray();
            if (_lastChanged is not null && PyOps.Equal(_lastChanged, now)) return false;
            _lastChanged = now;
            return true;
        }),
        _ => JinjaUndefined.Attribute(this, name),
    };
}
