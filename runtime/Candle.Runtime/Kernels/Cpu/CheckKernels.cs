namespace Candle.Runtime.Kernels.Cpu;

/// <summary>Checks of sizes that are only known when a plan is called; they run as steps before the steps they guard.</summary>
public static class CheckKernels
{
    /// <summary>
    /// Requires <c>0 ≤ start ≤ end ≤ size</c> (a slice of a dimension whose bounds are symbolic). Args:
    /// <c>start, end, size</c>. One work item.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie in the dimension.</exception>
    public static void Range(nint[] slots, long[] args, long start, long end)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (start >= end) return;
        long s = args[0], e = args[1], n = args[2];
        if (s < 0 || s > e || e > n)
        {
            throw new ArgumentOutOfRangeException(nameof(args), $"the range [{s}:{e}] does not lie in a dimension of size {n}");
        }
    }
}
