using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>F(2×2, 3×3) on the points 0, ±1 and ∞: 16 products per tile and channel pair instead of 36, for small images.</summary>
internal readonly unsafe struct WinogradF2 : IWinogradForm
{
    private static readonly double[,] s_g =
    {
        { 1, 0, 0 },
        { 0.5, 0.5, 0.5 },
        { 0.5, -0.5, 0.5 },
        { 0, 0, 1 },
    };

    /// <inheritdoc/>
    public static int Tile => 2;

    /// <inheritdoc/>
    public static int Patch => 4;

    /// <inheritdoc/>
    public static double[,] G => s_g;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Input(Vector256<float>* d, int ds, Vector256<float>* r, long rs)
    {
        var d0 = d[0];
        var d1 = d[ds];
        var d2 = d[2 * ds];
        var d3 = d[3 * ds];
        r[0] = d0 - d2;
        r[rs] = d1 + d2;
        r[2 * rs] = d2 - d1;
        r[3 * rs] = d1 - d3;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output(Vector256<float>* m, long ms, Vector256<float>* o, int os)
    {
        var m1 = m[ms];
        var m2 = m[2 * ms];
        o[0] = m[0] + m1 + m2;
        o[os] = m1 - m2 - m[3 * ms];
    }
}
