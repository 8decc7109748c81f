namespace Candle.Perf.Rows;

/// <summary>The row-wise op of a <see cref="RowCase"/>.</summary>
public enum RowOp
{
    /// <summary>Softmax over the last axis.</summary>
    Softmax,

    /// <summary>RMS norm over the last axis with a per-column weight, eps 1e-5.</summary>
    RmsNorm,
}
