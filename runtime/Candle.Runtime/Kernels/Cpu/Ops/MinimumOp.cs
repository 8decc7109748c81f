using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Elementwise minimum, NaN propagating.</summary>
public readonly struct MinimumOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 30;

    /// <inheritdoc/>
    public static string Name => "minimum";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double a, double b) => Math.Min(a, b);

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b) => Math.Min(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var r = TLanes.Select(TLanes.LessThan(b, a), b, a);
        return TLanes.Select(TLanes.Equal(b, b), r, b);
    }
}
