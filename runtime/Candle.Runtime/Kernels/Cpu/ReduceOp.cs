namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Reductions of the row reduce kernel.</summary>
public enum ReduceOp
{
    /// <summary>Sum.</summary>
    Sum,
    /// <summary>Mean.</summary>
    Mean,
    /// <summary>Maximum, NaN propagating.</summary>
    Max,
    /// <summary>Minimum, NaN propagating.</summary>
    Min,
    /// <summary>Product.</summary>
    Prod,
    /// <summary>Index of the first maximum (NaN counts as the maximum).</summary>
    ArgMax,
    /// <summary>Index of the first minimum (NaN counts as the minimum).</summary>
    ArgMin,
}
