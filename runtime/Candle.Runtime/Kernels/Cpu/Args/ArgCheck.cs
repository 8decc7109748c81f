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
}
