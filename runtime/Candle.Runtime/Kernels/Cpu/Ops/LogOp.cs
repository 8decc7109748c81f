using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>ln x (lanes: .NET's vector log, about 1 ulp).</summary>
public readonly struct LogOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 3;

    /// <inheritdoc/>
    public static string Name => "log";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => Math.Log(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Log(x);
}
