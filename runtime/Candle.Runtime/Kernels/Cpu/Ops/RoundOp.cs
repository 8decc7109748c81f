using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Round half to even (identity on integers).</summary>
public readonly struct RoundOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 17;

    /// <inheritdoc/>
    public static string Name => "round";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => Math.Round(x, MidpointRounding.ToEven);

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => x;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Round(x);
}
