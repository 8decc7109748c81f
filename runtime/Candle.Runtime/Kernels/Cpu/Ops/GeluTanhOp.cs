using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>GELU's tanh approximation: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³). Lanes use the identity 0.5·(1 + tanh(u)) = 1/(1 + e^(−2u)), which stays accurate where tanh(u) rounds to −1.</summary>
public readonly struct GeluTanhOp : IUnaryOp
{
    private const double SqrtTwoOverPi = 0.7978845608028653558798921198687637;

    /// <inheritdoc/>
    public static int Code => 12;

    /// <inheritdoc/>
    public static string Name => "gelu_tanh";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double x) => 0.5 * x * (1.0 + Math.Tanh(SqrtTwoOverPi * (x + (0.044715 * x * x * x))));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var u = TLanes.Mul(TLanes.Splat(0.7978846f), TLanes.Fma(TLanes.Mul(TLanes.Splat(0.044715f), TLanes.Mul(x, x)), x, x));
        return TLanes.Div(x, TLanes.Add(TLanes.Splat(1f), TLanes.Exp(TLanes.Mul(TLanes.Splat(-2f), u))));
    }
}
