namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// Jinja's default undefined value: prints as nothing, is false, iterates as empty and has length 0, but using it
/// in arithmetic, looking an attribute up on it or calling it is an error that names what was undefined.
/// </summary>
internal sealed class JinjaUndefined
{
    public JinjaUndefined(string hint) => Hint = hint;

    /// <summary>Why it is undefined, as Jinja words it ("'x' is undefined", "'dict object' has no attribute 'y'").</summary>
    public string Hint { get; }

    public TemplateException Fail() => new(Hint);

    public static JinjaUndefined Name(string name) => new($"'{name}' is undefined");

    public static JinjaUndefined Attribute(object? owner, string attribute) =>
        new($"'{PyOps.TypeName(owner)} object' has no attribute '{attribute}'");

    public override string ToString() => string.Empty;
}
