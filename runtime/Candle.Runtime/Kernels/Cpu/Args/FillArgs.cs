using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:fill</c> (<see cref="CopyKernels.Fill"/>), one value written to a contiguous buffer:
/// <c>dst, dtype, valueBits</c> (the value as the bits of a double). Work items are elements.
/// </summary>
internal readonly record struct FillArgs<T>(T Dst, T DType, T ValueBits)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [Dst, DType, ValueBits];
}

/// <summary>Kernel name, decoding and accesses of <see cref="FillArgs{T}"/>.</summary>
internal static class FillArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:fill";

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static FillArgs<long> Read(long[] a) => new(a[0], a[1], a[2]);

    /// <summary>Reads and checks the arguments.</summary>
    public static FillArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 3, 3);
        var p = Read(a);
        ArgCheck.Slot(p.Dst, "dst");
        ArgCheck.DType(p.DType, "dtype");
        return p;
    }

    /// <summary>The bytes the step writes over <paramref name="work"/> elements.</summary>
    public static IEnumerable<StepExtent> Accesses(FillArgs<long> p, long work)
    {
        yield return StepExtent.Dense(p.Dst, ArgCheck.DType(p.DType, "dtype"), 0, work, writes: true);
    }
}
