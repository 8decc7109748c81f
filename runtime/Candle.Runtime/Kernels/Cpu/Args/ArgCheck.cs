using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>Field checks shared by the argument records' <c>Decode</c> methods; each throws a <see cref="PlanFormatException"/> naming the field.</summary>
internal static class ArgCheck
{
    /// <summary>The largest rank (of a view, batch or spatial shape) a step may name.</summary>
    public const int MaxRank = 16;

    /// <summary>Requires between <paramref name="min"/> and <paramref name="max"/> arguments.</summary>
    public static void Count(long[] a, int min, int max)
    {
        if (a.Length < min || a.Length > max)
        {
            throw new PlanFormatException(min == max ? $"{a.Length} arguments, {min} expected" : $"{a.Length} arguments, {min} to {max} expected");
        }
    }

    /// <summary>Requires a defined <see cref="Runtime.DType"/> and returns its element size.</summary>
    public static long DType(long v, string field) =>
        v >= 0 && v <= int.MaxValue && Enum.IsDefined((DType)v) ? ((DType)v).SizeInBytes() : throw new PlanFormatException($"{field} {v} is not a dtype");

    /// <summary>Requires a size ≥ 0.</summary>
    public static long Size(long v, string field) => v >= 0 ? v : throw new PlanFormatException($"{field} {v} is negative");

    /// <summary>Requires 0 or 1.</summary>
    public static long Flag(long v, string field) => v is 0 or 1 ? v : throw new PlanFormatException($"{field} {v} is not 0 or 1");

    /// <summary>Requires a rank in [0, <see cref="MaxRank"/>].</summary>
    public static int Rank(long v, string field) => v is >= 0 and <= MaxRank ? (int)v : throw new PlanFormatException($"{field} {v} is outside [0, {MaxRank}]");

    /// <summary>Requires a vector width the row kernels know (0, 128, 256 or 512).</summary>
    public static long VectorBits(long v) => v is 0 or 128 or 256 or 512 ? v : throw new PlanFormatException($"vector width {v} is not 0, 128, 256 or 512");

    /// <summary>Requires a slot ≥ 0, or −1 where <paramref name="optional"/>.</summary>
    public static long Slot(long v, string field, bool optional = false) =>
        v >= 0 || (optional && v == -1) ? v : throw new PlanFormatException($"{field} slot {v} is not a buffer");

    /// <summary>Requires every size ≥ 0.</summary>
    public static void Sizes(ReadOnlySpan<long> v, string field)
    {
        foreach (long d in v) Size(d, field);
    }

    /// <summary>Requires every window parameter (stride, padding, dilation) in [<paramref name="min"/>, <see cref="int.MaxValue"/>].</summary>
    public static void Window(ReadOnlySpan<long> v, long min, string field)
    {
        foreach (long d in v)
        {
            if (d < min || d > int.MaxValue) throw new PlanFormatException($"{field} {d} is outside [{min}, {int.MaxValue}]");
        }
    }

    /// <summary>The product of sizes ≥ 0, or a <see cref="PlanFormatException"/> when it overflows.</summary>
    public static long Product(ReadOnlySpan<long> v)
    {
        long n = 1;
        foreach (long d in v) n = StepExtent.Mul(n, d);
        return n;
    }

    /// <summary>Requires an element size of 1, 2, 4 or 8 bytes.</summary>
    public static long ElementSize(long v) => v is 1 or 2 or 4 or 8 ? v : throw new PlanFormatException($"element size {v} is not 1, 2, 4 or 8");

    /// <summary>Requires an axis in [0, <paramref name="rank"/>).</summary>
    public static int Axis(long v, int rank) => v >= 0 && v < rank ? (int)v : throw new PlanFormatException($"axis {v} is outside [0, {rank})");

    /// <summary>
    /// Requires <paramref name="inner"/>[d] ≤ <paramref name="outer"/>[d] for every d but <paramref name="except"/>
    /// (−1: none), so that positions of the first shape index the second.
    /// </summary>
    public static void Within(ReadOnlySpan<long> inner, ReadOnlySpan<long> outer, int except, string innerName, string outerName)
    {
        for (int d = 0; d < inner.Length; d++)
        {
            if (d != except && inner[d] > outer[d])
            {
                throw new PlanFormatException($"{innerName} size {inner[d]} exceeds {outerName} size {outer[d]} in dimension {d}");
            }
        }
    }
}
