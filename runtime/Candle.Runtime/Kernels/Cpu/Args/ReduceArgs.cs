namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:reduce</c> (<see cref="RowKernels.Reduce"/>): <c>op, x, xType, y, yType, rowLength</c>.
/// Work items are rows; each row of x reduces to one element of y.
/// </summary>
internal readonly record struct ReduceArgs<T>(T Op, T X, T XType, T Y, T YType, T RowLength)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [Op, X, XType, Y, YType, RowLength];
}

/// <summary>Kernel name, decoding and accesses of <see cref="ReduceArgs{T}"/>.</summary>
internal static class ReduceArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:reduce";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static ReduceArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5]);

    /// <summary>Reads and checks the arguments.</summary>
    public static ReduceArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 6, 6);
        var p = Read(a);
        if (p.Op < 0 || p.Op > int.MaxValue || !Enum.IsDefined((ReduceOp)p.Op)) throw new Plans.PlanFormatException($"reduction {p.Op} is not defined");
        ArgCheck.Slot(p.X, "x");
        ArgCheck.DType(p.XType, "x dtype");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.YType, "y dtype");
        ArgCheck.Size(p.RowLength, "row length");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="rows"/> rows.</summary>
    public static IEnumerable<StepExtent> Accesses(ReduceArgs<long> p, long rows)
    {
        // An arg-reduction reads the first element of a row even when the row is empty.
        long n = (ReduceOp)p.Op is ReduceOp.ArgMax or ReduceOp.ArgMin ? Math.Max(p.RowLength, 1) : p.RowLength;
        yield return StepExtent.Of(p.X, ArgCheck.DType(p.XType, "x dtype"), 0, [rows, n], [p.RowLength, 1], writes: false);
        yield return StepExtent.Dense(p.Y, ArgCheck.DType(p.YType, "y dtype"), 0, rows, writes: true);
    }
}
