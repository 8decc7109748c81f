using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>PyTorch's softplus with β = 1 and threshold 20: x above 20, else ln(1 + eˣ). Lanes: max(x, 0) + ln(1 + e^(−|x|)).</summary>
public readonly struct SoftplusOp : IUnaryOp
{
    private const double Threshold = 20;

    /// <inheritdoc/>
    public static int Code => 40;

    /// <inheritdoc/>
    public static string Name => "softplus";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => x > Threshold ? x : Log1P(Math.Exp(x));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var e = TLanes.Exp(TLanes.Neg(TLanes.Abs(x)));
        var r = TLanes.Add(ReluOp.Invoke<TLanes, TVec>(x), Log1P<TLanes, TVec>(e));
        return TLanes.Select(TLanes.GreaterThan(x, TLanes.Splat((float)Threshold)), x, r);
    }

    // ln(1 + e) for e ≥ 0 without losing small e: with u = 1 + e rounded, ln(u)·e/(u − 1) (u − 1 is exact).
    private static double Log1P(double e)
    {
        double u = 1.0 + e;
        return u == 1.0 ? e : Math.Log(u) * e / (u - 1.0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Log1P<TLanes, TVec>(TVec e)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var u = TLanes.Add(TLanes.Splat(1f), e);
        var d = TLanes.Sub(u, TLanes.Splat(1f));
        var r = TLanes.Div(TLanes.Mul(TLanes.Log(u), e), d);
        return TLanes.Select(TLanes.Equal(d, TLanes.Splat(0f)), e, r);
    }
}
