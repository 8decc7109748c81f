using System.Runtime.CompilerServices;
using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>aᵇ (lanes: <see cref="MathF.Pow(float, float)"/> lane by lane); integers by repeated squaring, wrapping, negative exponents refused as PyTorch does.</summary>
public readonly unsafe struct PowOp : IBinaryOp
{
    /// <inheritdoc/>
    public static int Code => 28;

    /// <inheritdoc/>
    public static string Name => "pow";

    /// <inheritdoc/>
    public static bool HasIntegerForm => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Invoke(double a, double b) => Math.Pow(a, b);

    /// <inheritdoc/>
    /// <exception cref="ArithmeticException"><paramref name="b"/> is negative.</exception>
    public static long InvokeInteger(long a, long b)
    {
        if (b < 0) throw new ArithmeticException($"integers to negative integer powers are not allowed ({a} ** {b})");
        long result = 1;
        unchecked
        {
            while (b > 0)
            {
                if ((b & 1) != 0) result *= a;
                a *= a;
                b >>= 1;
            }
        }

        return result;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged
    {
        float* pa = (float*)&a;
        float* pb = (float*)&b;
        for (int k = 0; k < TLanes.Count; k++) pa[k] = MathF.Pow(pa[k], pb[k]);
        return a;
    }
}
