using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>
/// A two-input elementwise math op, defined once (see <see cref="IUnaryOp"/>): reference semantics in double,
/// the float32 lanes form of generated kernels, and an optional exact integer form. Comparisons and logical ops
/// give 1 or 0.
/// </summary>
public interface IBinaryOp : IElementwiseOp
{
    /// <summary>Whether <see cref="InvokeInteger(long, long)"/> is defined.</summary>
    static virtual bool HasIntegerForm => false;

    /// <summary>The reference value, computed in double.</summary>
    /// <param name="a">The first input.</param>
    /// <param name="b">The second input.</param>
    static abstract double Invoke(double a, double b);

    /// <summary>The float32 lanes form.</summary>
    /// <typeparam name="TLanes">The lane width.</typeparam>
    /// <typeparam name="TVec">Its vector type.</typeparam>
    /// <param name="a">The first input lanes.</param>
    /// <param name="b">The second input lanes.</param>
    static abstract TVec Invoke<TLanes, TVec>(TVec a, TVec b)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged;

    /// <summary>The exact integer value (wrapping on overflow).</summary>
    /// <param name="a">The first input.</param>
    /// <param name="b">The second input.</param>
    /// <exception cref="NotSupportedException">The op has no integer form.</exception>
    /// <exception cref="DivideByZeroException">Integer division by zero.</exception>
    static virtual long InvokeInteger(long a, long b) => throw new NotSupportedException("the op has no integer form");
}
