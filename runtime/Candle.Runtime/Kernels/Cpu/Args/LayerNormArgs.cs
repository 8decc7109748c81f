namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:layer_norm</c> (<see cref="RowKernels.LayerNorm"/>): <c>x, weight (−1 none), bias (−1 none),
/// y, dtype, rowLength, epsBits[, vectorBits]</c>. Work items are rows.
/// </summary>
internal readonly record struct LayerNormArgs<T>(T X, T Weight, T Bias, T Y, T DType, T RowLength, T EpsBits, T VectorBits)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, Weight, Bias, Y, DType, RowLength, EpsBits, VectorBits];
}

/// <summary>Kernel name, decoding and accesses of <see cref="LayerNormArgs{T}"/>.</summary>
internal static class LayerNormArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:layer_norm";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static LayerNormArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a.Length > 7 ? a[7] : 0);

    /// <summary>Reads and checks the arguments.</summary>
    public static LayerNormArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 7, 8);
        var p = Read(a);
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.Weight, "weight", optional: true);
        ArgCheck.Slot(p.Bias, "bias", optional: true);
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Size(p.RowLength, "row length");
        ArgCheck.VectorBits(p.VectorBits);
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="rows"/> rows.</summary>
    public static IEnumerable<StepExtent> Accesses(LayerNormArgs<long> p, long rows)
    {
        long es = ArgCheck.DType(p.DType, "dtype"), n = StepExtent.Mul(rows, p.RowLength);
        yield return StepExtent.Dense(p.X, es, 0, n, writes: false);
        if (p.Weight >= 0) yield return StepExtent.Dense(p.Weight, es, 0, p.RowLength, writes: false);
        if (p.Bias >= 0) yield return StepExtent.Dense(p.Bias, es, 0, p.RowLength, writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, n, writes: true);
    }
}
