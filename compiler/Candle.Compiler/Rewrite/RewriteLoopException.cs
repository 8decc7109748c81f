namespace Candle.Compiler.Rewrite;

/// <summary>Rules kept rewriting a graph without reaching a fixed point.</summary>
public sealed class RewriteLoopException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public RewriteLoopException(string message, IReadOnlyList<string> rules)
        : base(message) => Rules = rules;

    /// <summary>Creates the exception.</summary>
    public RewriteLoopException()
        : this("rewrite did not reach a fixed point", [])
    {
    }

    /// <summary>Creates the exception.</summary>
    public RewriteLoopException(string message)
        : this(message, [])
    {
    }

    /// <summary>Creates the exception.</summary>
    public RewriteLoopException(string message, Exception inner)
        : base(message, inner) => Rules = [];

    /// <summary>Names of the rules that were still firing when the guard tripped.</summary>
    public IReadOnlyList<string> Rules { get; }
}
