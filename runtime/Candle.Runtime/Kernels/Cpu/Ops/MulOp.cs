using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>a · b.</summary>
public readonly struct MulOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 24;

    /// <inheritdoc/>
    public static string Name => "mul";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double a, double b) => a * b;

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b) => unchecked(a * b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Mul(a, b);
}
