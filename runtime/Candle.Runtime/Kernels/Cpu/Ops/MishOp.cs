using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>x·tanh(softplus(x)), with <see cref="TanhOp"/> and <see cref="SoftplusOp"/>.</summary>
public readonly struct MishOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 41;

    /// <inheritdoc/>
    public static string Name => "mish";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => x * Math.Tanh(SoftplusOp.Invoke(x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Mul(x, TanhOp.Invoke<TLanes, TVec>(SoftplusOp.Invoke<TLanes, TVec>(x)));
}
