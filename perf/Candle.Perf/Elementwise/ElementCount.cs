namespace Candle.Perf.Elementwise;

/// <summary>
/// A length of the elementwise chain benchmark: bytes moved are x, w and b read plus the output written
/// (4 float32 arrays).
/// </summary>
public sealed record ElementCount(int Length) : IMovesBytes
{
    public double Bytes => 4.0 * sizeof(float) * Length;

    public override string ToString() => Length % (1 << 20) == 0 ? $"{Length >> 20}M" : Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
