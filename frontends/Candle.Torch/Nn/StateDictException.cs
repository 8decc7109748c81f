namespace Candle.Torch.Nn;

/// <summary>A state dict does not fit a module: the message names each tensor at fault with both shapes or dtypes, and missing or unexpected keys.</summary>
public sealed class StateDictException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateDictException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public StateDictException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public StateDictException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
