using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Exact GELU: 0.5·x·(1 + erf(x/√2)), with <see cref="ErfOp"/>.</summary>
public readonly struct GeluOp : IUnaryOp
{
    private const double SqrtHalf = 0.7071067811865475244008443621048490;

    /// <inheritdoc/>
    public static int Code => 11;

    /// <inheritdoc/>
    public static string Name => "gelu";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => 0.5 * x * (1.0 + ErfOp.Invoke(x * SqrtHalf));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Mul(TLanes.Mul(TLanes.Splat(0.5f), x), TLanes.Add(TLanes.Splat(1f), ErfOp.Invoke<TLanes, TVec>(TLanes.Mul(x, TLanes.Splat(0.70710677f)))));
}
