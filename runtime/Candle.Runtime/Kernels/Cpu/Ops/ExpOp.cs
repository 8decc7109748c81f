using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>eˣ (lanes: .NET's vector exp, about 1 ulp).</summary>
public readonly struct ExpOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 2;

    /// <inheritdoc/>
    public static string Name => "exp";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => Math.Exp(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Exp(x);
}
