namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:cumsum</c> (<see cref="RowKernels.CumSum"/>): <c>x, xType, y, yType, rowLength</c>. Work
/// items are rows.
/// </summary>
internal readonly record struct CumSumArgs<T>(T X, T XType, T Y, T YType, T RowLength)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, XType, Y, YType, RowLength];
}

/// <summary>Kernel name, decoding and accesses of <see cref="CumSumArgs{T}"/>.</summary>
internal static class CumSumArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:cumsum";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static CumSumArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4]);

    /// <summary>Reads and checks the arguments.</summary>
    public static CumSumArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 5, 5);
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.DType(p.XType, "x dtype");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.YType, "y dtype");
        ArgCheck.Size(p.RowLength, "row length");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="rows"/> rows.</summary>
    public static IEnumerable<StepExtent> Accesses(CumSumArgs<long> p, long rows)
    {
        long n = StepExtent.Mul(rows, p.RowLength);
        yield return StepExtent.Dense(p.X, ArgCheck.DType(p.XType, "x dtype"), 0, n, writes: false);
        yield return StepExtent.Dense(p.Y, ArgCheck.DType(p.YType, "y dtype"), 0, n, writes: true);
    }
}
