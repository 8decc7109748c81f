using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>PyTorch's floor_divide. Reference: floor(a/b) through fmod so that a == b·q + r holds with <see cref="RemainderOp"/>'s r, IEEE quotient for b = 0; integers round toward −∞ (long.MinValue / −1 wraps). Lanes: floor(a / b).</summary>
public readonly struct FloorDivOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 26;

    /// <inheritdoc/>
    public static string Name => "floor_div";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    public static double Invoke(double a, double b)
    {
        if (b == 0) return a / b;
        double mod = a % b;
        double div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1.0;
        if (div == 0) return Math.CopySign(0.0, a / b);
        double q = Math.Floor(div);
        if (div - q > 0.5) q += 1.0;
        return q;
    }

    /// <inheritdoc/>
    public static long InvokeInteger(long a, long b)
    {
        if (b == 0) throw new DivideByZeroException("integer division by zero");
        if (b == -1) return unchecked(-a);
        long q = a / b;
        if (a % b != 0 && (a < 0) != (b < 0)) q--;
        return q;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
        => TLanes.Floor(TLanes.Div(a, b));
}
