using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Round toward −∞ (identity on integers).</summary>
public readonly struct FloorOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 15;

    /// <inheritdoc/>
    public static string Name => "floor";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => Math.Floor(x);

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => x;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Floor(x);
}
