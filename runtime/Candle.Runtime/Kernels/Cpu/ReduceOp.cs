namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Reductions of the row reduce kernel; the values are the codes saved plans store (the IR's reduce ops name theirs).</summary>
public enum ReduceOp
{
    /// <summary>Sum.</summary>
    Sum = 0,
    /// <summary>Mean.</summary>
    Mean = 1,
    /// <summary>Maximum, NaN propagating.</summary>
    Max = 2,
    /// <summary>Minimum, NaN propagating.</summary>
    Min = 3,
    /// <summary>Product.</summary>
    Prod = 4,
    /// <summary>Index of the first maximum (NaN counts as the maximum).</summary>
    ArgMax = 5,
    /// <summary>Index of the first minimum (NaN counts as the minimum).</summary>
    ArgMin = 6,
}
