namespace Candle.Transformers.Chat.Templates;

/// <summary>Something a template can call: a built-in function or method, a macro, <c>caller</c>.</summary>
internal interface IJinjaCallable
{
    string Name { get; }

    object? Call(JinjaArgs args);
}

/// <summary>The arguments of one call: positional then keyword, in the order written.</summary>
internal sealed class JinjaArgs
{
    public static readonly JinjaArgs Empty = new([], []);

    public JinjaArgs(List<object?> positional, List<KeyValuePair<string, object?>> keywords)
    {
        Positional = positional;
        Keywords = keywords;
    }

    public List<object?> Positional { get; }

    public List<KeyValuePair<string, object?>> Keywords { get; }

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index >= 0 && index < Positional.Count) return Positional[index];
        foreach (var kv in Keywords)
        {
            if (kv.Key == name) return kv.Value;
        }

        return fallback;
    }

    public bool Has(int index, string name) =>
        (index >= 0 && index < Positional.Count) || Keywords.Exists(kv => kv.Key == name);
}

/// <summary>A function written in C# (global, filter-like method, bound string/dict method).</summary>
internal sealed class BuiltinFunction : IJinjaCallable
{
    private readonly Func<JinjaArgs, object?> _body;

    public BuiltinFunction(string name, Func<JinjaArgs, object?> body)
    {
        Name = name;
        _body = body;
    }

    public string Name { get; }

    public object? Call(JinjaArgs args) => _body(args);
}
