using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>The logistic function 1/(1 + e⁻ˣ).</summary>
public readonly struct SigmoidOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 9;

    /// <inheritdoc/>
    public static string Name => "sigmoid";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Div(TLanes.Splat(1f), TLanes.Add(TLanes.Splat(1f), TLanes.Exp(TLanes.Neg(x))));
}
