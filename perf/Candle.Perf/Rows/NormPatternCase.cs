using Candle.Perf.Elementwise;

namespace Candle.Perf.Rows;

/// <summary>
/// A norm or softmax over the rows of a [rows, cols] float32 matrix, written from primitives or as the library op;
/// bytes moved are the matrix read once and written once.
/// </summary>
public sealed record NormPatternCase(string Name, int Rows, int Cols) : IMovesBytes
{
    public double Bytes => 2.0 * sizeof(float) * Rows * Cols;

    public override string ToString() => $"{Name} {Rows}x{Cols}";
}
