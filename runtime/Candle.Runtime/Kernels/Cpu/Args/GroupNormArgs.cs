using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:group_norm</c> (<see cref="RowKernels.GroupNorm"/>) over [N, C, spatial]:
/// <c>x, weight (−1 none), bias (−1 none), y, dtype, channels, spatial, groups, epsBits</c>. Work items are
/// (n, group) pairs.
/// </summary>
internal readonly record struct GroupNormArgs<T>(T X, T Weight, T Bias, T Y, T DType, T Channels, T Spatial, T Groups, T EpsBits)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, Weight, Bias, Y, DType, Channels, Spatial, Groups, EpsBits];
}

/// <summary>Kernel name, decoding and accesses of <see cref="GroupNormArgs{T}"/>.</summary>
internal static class GroupNormArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:group_norm";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static GroupNormArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);

    /// <summary>Reads and checks the arguments.</summary>
    public static GroupNormArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 9, 9);
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.Weight, "weight", optional: true);
        ArgCheck.Slot(p.Bias, "bias", optional: true);
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Size(p.Channels, "channels");
        ArgCheck.Size(p.Spatial, "spatial size");
        if (p.Groups < 1 || p.Channels % p.Groups != 0) throw new PlanFormatException($"{p.Groups} groups do not divide {p.Channels} channels");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> (n, group) items.</summary>
    public static IEnumerable<StepExtent> Accesses(GroupNormArgs<long> p, long work)
    {
        long es = ArgCheck.DType(p.DType, "dtype");
        long n = StepExtent.Mul(work, StepExtent.Mul(p.Channels / p.Groups, p.Spatial));
        yield return StepExtent.Dense(p.X, es, 0, n, writes: false);
        if (p.Weight >= 0) yield return StepExtent.Dense(p.Weight, es, 0, p.Channels, writes: false);
        if (p.Bias >= 0) yield return StepExtent.Dense(p.Bias, es, 0, p.Channels, writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, n, writes: true);
    }
}
