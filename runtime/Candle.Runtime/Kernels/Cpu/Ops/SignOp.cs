using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>−1, 0 or 1; NaN stays NaN.</summary>
public readonly struct SignOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 18;

    /// <inheritdoc/>
    public static string Name => "sign";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => double.IsNaN(x) ? x : x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => Math.Sign(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var r = TLanes.Select(TLanes.GreaterThan(x, TLanes.Splat(0f)), TLanes.Splat(1f), TLanes.Splat(0f));
        r = TLanes.Select(TLanes.LessThan(x, TLanes.Splat(0f)), TLanes.Splat(-1f), r);
        return TLanes.Select(TLanes.Equal(x, x), r, x);
    }
}
