using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:arange</c> (<see cref="CopyKernels.Arange"/>), element i = start + step · i in a contiguous
/// buffer: <c>dst, dtype, startBits, stepBits</c> (the bits of doubles). Work items are elements.
/// </summary>
internal readonly record struct ArangeArgs<T>(T Dst, T DType, T StartBits, T StepBits)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [Dst, DType, StartBits, StepBits];
}

/// <summary>Kernel name, decoding and accesses of <see cref="ArangeArgs{T}"/>.</summary>
internal static class ArangeArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:arange";

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static ArangeArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3]);

    /// <summary>Reads and checks the arguments.</summary>
    public static ArangeArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 4, 4);
        var p = Read(a);
        ArgCheck.Slot(p.Dst, "dst");
        ArgCheck.DType(p.DType, "dtype");
        return p;
    }

    /// <summary>The bytes the step writes over <paramref name="work"/> elements.</summary>
    public static IEnumerable<StepExtent> Accesses(ArangeArgs<long> p, long work)
    {
        yield return StepExtent.Dense(p.Dst, ArgCheck.DType(p.DType, "dtype"), 0, work, writes: true);
    }
}
