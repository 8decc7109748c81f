using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:check_range</c> (<see cref="CheckKernels.Range"/>), which requires
/// <c>0 ≤ start ≤ end ≤ size</c> for a slice whose bounds are symbolic: <c>start, end, size</c>. One work item; it
/// touches no memory.
/// </summary>
internal readonly record struct CheckRangeArgs<T>(T Start, T End, T Size)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [Start, End, Size];
}

/// <summary>Kernel name, decoding and accesses of <see cref="CheckRangeArgs{T}"/>.</summary>
internal static class CheckRangeArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:check_range";

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static CheckRangeArgs<long> Read(long[] a) => new(a[0], a[1], a[2]);

    /// <summary>Reads and checks the arguments.</summary>
    public static CheckRangeArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 3, 3);
        return Read(a);
    }

    /// <summary>No memory; the step must run once, so that an edited work count cannot skip the check.</summary>
    public static IEnumerable<StepExtent> Accesses(CheckRangeArgs<long> p, long work)
    {
        _ = p;
        if (work != 1) throw new PlanFormatException($"the step covers {work} items, 1 expected");
        yield break;
    }
}
