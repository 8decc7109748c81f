using Candle.Perf.Elementwise;

namespace Candle.Perf.Rows;

/// <summary>A row-wise op over a [rows, cols] float32 matrix; bytes moved are the matrix read once and written once.</summary>
public sealed record RowCase(RowOp Op, int Rows, int Cols) : IMovesBytes
{
    public double Bytes => 2.0 * sizeof(float) * Rows * Cols;

    public override string ToString() => $"{(Op == RowOp.Softmax ? "softmax" : "rms_norm")} {Rows}x{Cols}";
}
