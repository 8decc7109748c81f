using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>tanh x. Lanes: an odd Taylor polynomial below |x| = 0.1, else (1 − e^(−2|x|))/(1 + e^(−2|x|)) with x's sign; relative error below 5e-7.</summary>
public readonly struct TanhOp : IUnaryOp
{
    /// <inheritdoc/>
    public static int Code => 8;

    /// <inheritdoc/>
    public static string Name => "tanh";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => Math.Tanh(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var ax = TLanes.Abs(x);
        var t = TLanes.Exp(TLanes.Mul(TLanes.Splat(-2f), ax));
        var big = TLanes.CopySign(TLanes.Div(TLanes.Sub(TLanes.Splat(1f), t), TLanes.Add(TLanes.Splat(1f), t)), x);
        var x2 = TLanes.Mul(x, x);
        var poly = TLanes.Fma(x2, TLanes.Splat(-17f / 315f), TLanes.Splat(2f / 15f));
        poly = TLanes.Fma(x2, poly, TLanes.Splat(-1f / 3f));
        var small = TLanes.Fma(TLanes.Mul(x, x2), poly, x);
        var r = TLanes.Select(TLanes.LessThan(ax, TLanes.Splat(0.1f)), small, big);
        return TLanes.Select(TLanes.Equal(x, x), r, x);
    }
}
