using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>a and b (nonzero is true) as 1 or 0.</summary>
public readonly struct LogicalAndOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 37;

    /// <inheritdoc/>
    public static string Name => "logical_and";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double a, double b) => a != 0 && b != 0 ? 1.0 : 0.0;

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b) => a != 0 && b != 0 ? 1 : 0;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.And(TLanes.And(TLanes.Not(TLanes.Equal(a, TLanes.Splat(0f))), TLanes.Not(TLanes.Equal(b, TLanes.Splat(0f)))), TLanes.Splat(1f));
}
