using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// A byte range <c>[First, End)</c> of buffer slot <see cref="Slot"/> that a kernel step reads or writes for its bound
/// arguments; the plan checks it against the bound buffer sizes once per symbol binding (<see cref="StepAccess"/>).
/// </summary>
/// <param name="Slot">The buffer slot.</param>
/// <param name="First">First byte touched.</param>
/// <param name="End">One past the last byte touched; equal to <paramref name="First"/> when nothing is touched.</param>
/// <param name="Writes">Whether the step writes the range (a weight may not be written).</param>
internal readonly record struct StepExtent(long Slot, long First, long End, bool Writes)
{
    /// <summary>
    /// The bytes of the strided view (offset, shape, strides, in elements of <paramref name="elementSize"/> bytes) of
    /// <paramref name="slot"/>; a view with an empty dimension touches nothing.
    /// </summary>
    /// <exception cref="PlanFormatException">An extent is negative or the range overflows.</exception>
    public static StepExtent Of(long slot, long elementSize, long offset, ReadOnlySpan<long> shape, ReadOnlySpan<long> strides, bool writes)
    {
        long lo = offset, hi = offset;
        try
        {
            for (int d = 0; d < shape.Length; d++)
            {
                if (shape[d] < 0) throw new PlanFormatException($"negative extent {shape[d]} of buffer b{slot}");
                if (shape[d] == 0) return new(slot, 0, 0, writes);
                long span = checked((shape[d] - 1) * strides[d]);
                if (span < 0) lo = checked(lo + span);
                else hi = checked(hi + span);
            }

            return new(slot, checked(lo * elementSize), checked((hi + 1) * elementSize), writes);
        }
        catch (OverflowException)
        {
            throw new PlanFormatException($"the extent of buffer b{slot} overflows");
        }
    }

    /// <summary>The bytes of <paramref name="count"/> contiguous elements from element <paramref name="offset"/>.</summary>
    public static StepExtent Dense(long slot, long elementSize, long offset, long count, bool writes) =>
        Of(slot, elementSize, offset, [count], [1], writes);

    /// <summary>The product <c>a · b</c>, or a <see cref="PlanFormatException"/> when it overflows.</summary>
    public static long Mul(long a, long b)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException)
        {
            throw new PlanFormatException($"the size {a} × {b} overflows");
        }
    }
}
