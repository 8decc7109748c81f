namespace Candle.Compiler.Gpu.Kernels;

/// <summary>
/// Division of non-negative 32-bit indices by a divisor fixed per launch without a divide instruction (PyTorch's
/// IntDivider, CUTLASS's FastDivmod): the host picks a multiplier and a shift per divisor, and the kernel takes
/// n / d = (mulhi(n, multiplier) + n) >> shift, exact for 0 ≤ n &lt; 2³¹ and 1 ≤ d &lt; 2³¹.
/// </summary>
internal static class FastDivmod
{
    /// <summary>The multiplier and shift of divisor <paramref name="d"/> (host side).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="d"/> is not in 1..2³¹-1.</exception>
    public static (uint Multiplier, int Shift) Magic(long d)
    {
        if (d < 1 || d > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(d), d, "a fast divisor lies in 1..2^31-1");
        int shift = 0;
        while ((1L << shift) < d) shift++;
        ulong multiplier = (((1UL << 32) * ((1UL << shift) - (ulong)d)) / (ulong)d) + 1;
        return ((uint)multiplier, shift);
    }

    /// <summary>n / d for the <paramref name="multiplier"/> and <paramref name="shift"/> of d (0 ≤ n &lt; 2³¹).</summary>
    public static int Divide(int n, uint multiplier, int shift)
    {
        uint hi = (uint)(((ulong)(uint)n * multiplier) >> 32);
        return (int)((hi + (uint)n) >> shift);
    }
}
