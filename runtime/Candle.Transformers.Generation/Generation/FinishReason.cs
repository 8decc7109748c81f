namespace Candle.Transformers.Generation;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token was produced.</summary>
    Stop,

    /// <summary>The requested number of new tokens was produced.</summary>
    Length,

    /// <summary>The model's maximum number of positions was reached.</summary>
    ContextFull,

    /// <summary>The cancellation token was signalled.</summary>
    Cancelled,
}
