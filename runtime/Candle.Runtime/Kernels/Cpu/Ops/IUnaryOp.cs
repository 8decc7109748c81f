using Candle.Runtime.Kernels.Cpu.Lanes;

namespace Candle.Runtime.Kernels.Cpu.Ops;

/// <summary>
/// A one-input elementwise math op, defined once: the reference semantics in double (the reference interpreter and
/// the scalar fallback kernel compute with it and round once to the output dtype), the float32 lanes form that
/// generated kernels run at every width (vector bodies over <see cref="Lanes128"/>, <see cref="Lanes256"/> or
/// <see cref="Lanes512"/>, scalar tails over <see cref="Lanes1"/>, so tails and bodies agree), and an optional
/// exact integer form.
/// </summary>
public interface IUnaryOp : IElementwiseOp
{
    /// <summary>Whether <see cref="InvokeInteger(long)"/> is defined (integer tensors are otherwise rejected or promoted).</summary>
    static virtual bool HasIntegerForm => false;

    /// <summary>The reference value, computed in double.</summary>
    /// <param name="x">The input.</param>
    static abstract double Invoke(double x);

    /// <summary>The float32 lanes form.</summary>
    /// <typeparam name="TLanes">The lane width.</typeparam>
    /// <typeparam name="TVec">Its vector type.</typeparam>
    /// <param name="x">The input lanes.</param>
    static abstract TVec Invoke<TLanes, TVec>(TVec x)
        where TLanes : ILanes<TVec>
        where TVec : unmanaged;

    /// <summary>The exact integer value (wrapping on overflow).</summary>
    /// <param name="x">The input.</param>
    /// <exception cref="NotSupportedException">The op has no integer form.</exception>
    static virtual long InvokeInteger(long x) => throw new NotSupportedException("the op has no integer form");
}
