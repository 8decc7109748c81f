using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>max(x, 0); NaN stays NaN.</summary>
public readonly struct ReluOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 10;

    /// <inheritdoc/>
    public static string Name => "relu";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => double.IsNaN(x) ? x : x > 0 ? x : 0.0;

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => x > 0 ? x : 0;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Select(TLanes.LessThan(x, TLanes.Splat(0f)), TLanes.Splat(0f), x);
}
