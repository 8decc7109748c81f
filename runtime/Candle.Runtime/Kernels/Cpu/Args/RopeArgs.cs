namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:rope</c> (<see cref="AttentionKernels.Rope"/>): <c>x, cos, sin, y, dtype, headDim,
/// interleaved</c>; cos and sin hold headDim/2 values per row of x. Work items are rows of x.
/// </summary>
internal readonly record struct RopeArgs<T>(T X, T Cos, T Sin, T Y, T DType, T HeadDim, T Interleaved)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, Cos, Sin, Y, DType, HeadDim, Interleaved];
}

/// <summary>Kernel name, decoding and accesses of <see cref="RopeArgs{T}"/>.</summary>
internal static class RopeArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:rope";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static RopeArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);

    /// <summary>Reads and checks the arguments.</summary>
    public static RopeArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 7, 7);
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.Cos, "cos");
        ArgCheck.Slot(p.Sin, "sin");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Size(p.HeadDim, "head dim");
        ArgCheck.Flag(p.Interleaved, "interleaved");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="rows"/> rows.</summary>
    public static IEnumerable<StepExtent> Accesses(RopeArgs<long> p, long rows)
    {
        long es = ArgCheck.DType(p.DType, "dtype"), n = StepExtent.Mul(rows, p.HeadDim), h = StepExtent.Mul(rows, p.HeadDim / 2);
        yield return StepExtent.Dense(p.X, es, 0, n, writes: false);
        yield return StepExtent.Dense(p.Cos, es, 0, h, writes: false);
        yield return StepExtent.Dense(p.Sin, es, 0, h, writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, n, writes: true);
    }
}
