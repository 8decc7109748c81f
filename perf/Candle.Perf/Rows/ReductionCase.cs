using Candle.Perf.Elementwise;

namespace Candle.Perf.Rows;

/// <summary>
/// A float32 reduction with its fused elementwise producer and consumer over an input of <paramref name="Shape"/>;
/// bytes moved are the input read once and the output written once.
/// </summary>
public sealed record ReductionCase(string Name, int[] Shape, long OutputElements) : IMovesBytes
{
    public double Bytes => sizeof(float) * ((double)Shape.Aggregate(1L, (a, d) => a * d) + OutputElements);

    public override string ToString() => $"{Name} {string.Join("x", Shape)}";
}
