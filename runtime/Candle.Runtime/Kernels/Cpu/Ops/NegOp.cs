using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>−x.</summary>
public readonly struct NegOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 0;

    /// <inheritdoc/>
    public static string Name => "neg";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => -x;

    /// <inheritdoc/>
    public static long InvokeInteger(long x) => unchecked(-x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Neg(x);
}
