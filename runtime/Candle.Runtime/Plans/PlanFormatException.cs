namespace Candle.Runtime.Plans;

/// <summary>
/// A plan file that is malformed, tampered with (a section whose SHA-256 differs from the header's), unsigned or
/// signed by an untrusted key when <see cref="PlanLoadOptions"/> require a trusted signature, or structurally invalid
/// (a field out of range, a step argument or buffer access outside its buffer). The message names the file and what
/// is wrong. Thrown before any code from the file is loaded.
/// </summary>
public sealed class PlanFormatException : IOException
{
    /// <summary>Creates the exception.</summary>
    public PlanFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public PlanFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public PlanFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
