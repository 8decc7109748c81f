namespace Candle.Compiler.Passes;

/// <summary>A pass produced a graph the IR verifier rejects.</summary>
public sealed class PassVerificationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public PassVerificationException(string passName, Exception inner)
        : base($"pass '{passName}' produced an invalid graph: {inner?.Message}", inner) => PassName = passName;

    /// <summary>Creates the exception.</summary>
    public PassVerificationException()
        : this("?", new InvalidOperationException("invalid graph"))
    {
    }

    /// <summary>Creates the exception.</summary>
    public PassVerificationException(string message)
        : base(message) => PassName = "?";

    /// <summary>The pass at fault.</summary>
    public string PassName { get; }
}
