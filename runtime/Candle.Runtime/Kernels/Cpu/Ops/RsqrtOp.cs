using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>1/√x.</summary>
public readonly struct RsqrtOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 5;

    /// <inheritdoc/>
    public static string Name => "rsqrt";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => 1.0 / Math.Sqrt(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Div(TLanes.Splat(1f), TLanes.Sqrt(x));
}
