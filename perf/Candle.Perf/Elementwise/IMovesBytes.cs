namespace Candle.Perf.Elementwise;

/// <summary>A benchmark parameter that knows the bytes one invocation reads and writes.</summary>
public interface IMovesBytes
{
    /// <summary>Bytes read plus bytes written per invocation.</summary>
    double Bytes { get; }
}
