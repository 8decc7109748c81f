namespace Candle.Transformers.Chat.Templates;

/// <summary>Jinja's <c>namespace(...)</c>: the one object whose attributes a template may assign, across scopes.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
