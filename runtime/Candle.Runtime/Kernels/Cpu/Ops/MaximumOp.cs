using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Elementwise maximum, NaN propagating.</summary>
public readonly struct MaximumOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 29;

    /// <inheritdoc/>
    public static string Name => "maximum";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double a, double b) => Math.Max(a, b);

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b) => Math.Max(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var r = TLanes.Select(TLanes.GreaterThan(b, a), b, a);
        return TLanes.Select(TLanes.Equal(b, b), r, b);
    }
}
