using System.Runtime.CompilerServices;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>The packed 6-bit scales and minimums of the Q4_K and Q5_K super-blocks (ggml's <c>get_scale_min_k4</c>).</summary>
internal static class KQuantScales
{
    /// <summary>Sub-block <paramref name="j"/>'s (0..7) scale and minimum from the 12 packed bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (int Scale, int Min) Get(int j, ReadOnlySpan<byte> q)
    {
        if (j < 4)
        {
            return (q[j] & 63, q[j + 4] & 63);
        }

        return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
