using Candle.Runtime.Kernels.Cpu.Args;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Checks of sizes that are only known when a plan is called; they run as steps before the steps they guard.</summary>
public static class CheckKernels
{
    /// <summary>
    /// Requires <c>0 ≤ start ≤ end ≤ size</c> (a slice of a dimension whose bounds are symbolic); arguments:
    /// <see cref="CheckRangeArgs{T}"/>. One work item.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie in the dimension.</exception>
    public static void Range(nint[] slots, long[] args, long start, long end)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (start >= end) return;
        var (s, e, n) = CheckRangeArgs.Read(args);
        if (s < 0 || s > e || e > n)
        {
            throw new ArgumentOutOfRangeException(nameof(args), $"the range [{s}:{e}] does not lie in a dimension of size {n}");
        }
    }
}
