namespace Candle.Transformers.Chat.Templates;

/// <summary>A frame of template variables: <c>set</c> writes here, lookups walk out to the enclosing frames.</summary>
internal sealed class JinjaScope
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public JinjaScope(JinjaScope? parent) => Parent = parent;

    public JinjaScope? Parent { get; }

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
        {
            if (s._vars.TryGetValue(name, out value)) return true;
        }

        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}
