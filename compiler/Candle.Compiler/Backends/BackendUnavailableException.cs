namespace Candle.Compiler.Backends;

/// <summary>The one exception type for a backend that cannot run on this machine (no GPU, no driver...).</summary>
public sealed class BackendUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
