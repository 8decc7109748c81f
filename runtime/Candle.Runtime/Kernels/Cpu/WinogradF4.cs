using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Candle.Runtime.Kernels.Cpu;

/// <summary>F(4×4, 3×3) on the points 0, ±1, ±2 and ∞: 36 products per tile and channel pair instead of 144.</summary>
internal readonly unsafe struct WinogradF4 : IWinogradForm
{
    private static readonly double[,] s_g =
    {
        { 1.0 / 4, 0, 0 },
        { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
        { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
        { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
        { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
        { 0, 0, 1 },
    };

    /// <inheritdoc/>
    public static int Tile => 4;

    /// <inheritdoc/>
    public static int Patch => 6;

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
        var d4 = d[4 * ds];
        var d5 = d[5 * ds];
        var four = Vector256.Create(4f);
        var five = Vector256.Create(5f);
        var a = d4 - d2;
        var b = (d3 - d1) * Vector256.Create(2f);
        r[0] = Fma.MultiplyAdd(d0, four, Fma.MultiplyAddNegated(d2, five, d4));
        r[rs] = Fma.MultiplyAddNegated(d1 + d2, four, d3 + d4);
        r[2 * rs] = Fma.MultiplyAdd(d1 - d2, four, d4 - d3);
        r[3 * rs] = a + b;
        r[4 * rs] = a - b;
        r[5 * rs] = Fma.MultiplyAdd(d1, four, Fma.MultiplyAddNegated(d3, five, d5));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output(Vector256<float>* m, long ms, Vector256<float>* o, int os)
    {
        var m0 = m[0];
        var m1 = m[ms];
        var m2 = m[2 * ms];
        var m3 = m[3 * ms];
        var m4 = m[4 * ms];
        var m5 = m[5 * ms];
        var sum12 = m1 + m2;
        var dif12 = m1 - m2;
        var sum34 = m3 + m4;
        var dif34 = m3 - m4;
        o[0] = m0 + sum12 + sum34;
        o[os] = Fma.MultiplyAdd(dif34, Vector256.Create(2f), dif12);
        o[2 * os] = Fma.MultiplyAdd(sum34, Vector256.Create(4f), sum12);
        o[3 * os] = Fma.MultiplyAdd(dif34, Vector256.Create(8f), dif12) + m5;
    }
}
