using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>x·sigmoid(x).</summary>
public readonly struct SiluOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 13;

    /// <inheritdoc/>
    public static string Name => "silu";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => x / (1.0 + Math.Exp(-x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Div(x, TLanes.Add(TLanes.Splat(1f), TLanes.Exp(TLanes.Neg(x))));
}
