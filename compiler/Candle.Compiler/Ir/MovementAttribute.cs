namespace Candle.Compiler.Ir;

/// <summary>Declares a movement op; <see cref="View"/> when it is a view of its first input.</summary>
internal sealed class MovementAttribute : OpGroupAttribute
{
    /// <summary>Whether the op is a view (a strided re-reading of its first input, no data movement).</summary>
    public bool View { get; init; }
}
