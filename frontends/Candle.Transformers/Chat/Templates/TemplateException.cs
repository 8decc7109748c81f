namespace Candle.Transformers.Chat.Templates;

/// <summary>
/// A chat template failed to parse or render: a syntax error (with its line), an undefined value used in a way
/// Jinja forbids, a sandbox violation, or the template's own <c>raise_exception(message)</c>, whose message is
/// <see cref="Exception.Message"/> unchanged.
/// </summary>
public sealed class TemplateException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public TemplateException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public TemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no message.</summary>
    public TemplateException()
    {
    }

    /// <summary>True when the template itself raised the error with <c>raise_exception</c>.</summary>
    public bool RaisedByTemplate { get; init; }
}
