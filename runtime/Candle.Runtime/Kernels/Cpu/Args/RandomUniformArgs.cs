using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:random_uniform</c> (<see cref="RandomKernels.Uniform"/>): element i of a contiguous float32
/// buffer = <see cref="Randomness.Philox4x32.Uniform(long, long, long)"/>(seed, stream, i), the seed read as the int64 at
/// element 0 of its buffer: <c>dst, seed, stream</c>. Work items are elements.
/// </summary>
internal readonly record struct RandomUniformArgs<T>(T Dst, T Seed, T Stream)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [Dst, Seed, Stream];
}

/// <summary>Kernel name, decoding and accesses of <see cref="RandomUniformArgs{T}"/>.</summary>
internal static class RandomUniformArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:random_uniform";

    /// <summary>Reads the arguments without checks (the kernel's hot path; the plan checked them at binding).</summary>
    public static RandomUniformArgs<long> Read(long[] a) => new(a[0], a[1], a[2]);

    /// <summary>Reads and checks the arguments.</summary>
    public static RandomUniformArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 3, 3);
        var p = Read(a);
        ArgCheck.Slot(p.Dst, "dst");
        ArgCheck.Slot(p.Seed, "seed");
        return p;
    }

    /// <summary>The float32 elements the step writes over <paramref name="work"/> elements and the seed it reads.</summary>
    public static IEnumerable<StepExtent> Accesses(RandomUniformArgs<long> p, long work)
    {
        yield return StepExtent.Dense(p.Seed, sizeof(long), 0, 1, writes: false);
        yield return StepExtent.Dense(p.Dst, sizeof(float), 0, work, writes: true);
    }
}
