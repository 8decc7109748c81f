namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:softmax</c> and <c>rt:log_softmax</c> (<see cref="RowKernels.Softmax"/>,
/// <see cref="RowKernels.LogSoftmax"/>): <c>x, y, dtype, rowLength[, vectorBits]</c>. Work items are rows.
/// </summary>
internal readonly record struct SoftmaxArgs<T>(T X, T Y, T DType, T RowLength, T VectorBits)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, Y, DType, RowLength, VectorBits];
}

/// <summary>Kernel names, decoding and accesses of <see cref="SoftmaxArgs{T}"/>.</summary>
internal static class SoftmaxArgs
{
    /// <summary>The softmax kernel's name in a plan step.</summary>
    public const string Kernel = "rt:softmax";

    /// <summary>The log-softmax kernel's name in a plan step.</summary>
    public const string LogKernel = "rt:log_softmax";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static SoftmaxArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a.Length > 4 ? a[4] : 0);

    /// <summary>Reads and checks the arguments.</summary>
    public static SoftmaxArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 4, 5);
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Size(p.RowLength, "row length");
        ArgCheck.VectorBits(p.VectorBits);
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="rows"/> rows.</summary>
    public static IEnumerable<StepExtent> Accesses(SoftmaxArgs<long> p, long rows)
    {
        long es = ArgCheck.DType(p.DType, "dtype"), n = StepExtent.Mul(rows, p.RowLength);
        yield return StepExtent.Dense(p.X, es, 0, n, writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, n, writes: true);
    }
}
