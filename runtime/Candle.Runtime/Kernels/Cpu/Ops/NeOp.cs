using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>a != b as 1 or 0 (false when either side is NaN, except ne).</summary>
public readonly struct NeOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 32;

    /// <inheritdoc/>
    public static string Name => "ne";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double a, double b) => a != b ? 1.0 : 0.0;

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b) => a != b ? 1 : 0;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.And(TLanes.Not(TLanes.Equal(a, b)), TLanes.Splat(1f));
}
