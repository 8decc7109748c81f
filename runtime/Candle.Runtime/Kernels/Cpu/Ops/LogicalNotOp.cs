using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>1 where x is 0, else 0.</summary>
public readonly struct LogicalNotOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 20;

    /// <inheritdoc/>
    public static string Name => "logical_not";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => x == 0 ? 1.0 : 0.0;

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => x == 0 ? 1 : 0;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.And(TLanes.Equal(x, TLanes.Splat(0f)), TLanes.Splat(1f));
}
