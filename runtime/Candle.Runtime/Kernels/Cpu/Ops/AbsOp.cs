using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>|x|.</summary>
public readonly struct AbsOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 1;

    /// <inheritdoc/>
    public static string Name => "abs";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => Math.Abs(x);

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => x < 0 ? unchecked(-x) : x;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Abs(x);
}
