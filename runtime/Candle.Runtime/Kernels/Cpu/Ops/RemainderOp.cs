using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>Python's modulo a − b·floor(a/b), with the divisor's sign (NaN for b = 0; integer division by zero throws).</summary>
public readonly struct RemainderOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 27;

    /// <inheritdoc/>
    public static string Name => "remainder";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    public static double Invoke(double a, double b)
    {
        double mod = a % b;
        if (mod != 0 && (b < 0) != (mod < 0)) mod += b;
        return mod;
    }

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b)
    {
        if (b == 0) throw new DivideByZeroException("integer division by zero");
        if (b == -1) return 0;
        long r = a % b;
        if (r != 0 && (r < 0) != (b < 0)) r += b;
        return r;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        var r = TLanes.Sub(a, TLanes.Mul(b, TLanes.Truncate(TLanes.Div(a, b))));
        var zero = TLanes.Splat(0f);
        var fix = TLanes.And(TLanes.Not(TLanes.Equal(r, zero)), TLanes.Xor(TLanes.LessThan(r, zero), TLanes.LessThan(b, zero)));
        return TLanes.Select(fix, TLanes.Add(r, b), r);
    }
}
