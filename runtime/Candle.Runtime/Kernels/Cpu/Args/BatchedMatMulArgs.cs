using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:sgemm</c> (<see cref="SgemmKernel"/>, float32, one work item) and <c>rt:matmul</c>
/// (<see cref="MatMulKernel"/>, any dtype, work items are rows of C), C[batch…, M, N] = A · B with C dense:
/// <c>a, b, c, dtype, M, N, K, batchRank, batchShape[br], aOffset, aBatchStrides[br], aRowStride, aColStride,
/// bOffset, bBatchStrides[br], bRowStride, bColStride</c> (in elements).
/// </summary>
internal readonly record struct BatchedMatMulArgs<T>(
    T A, T B, T C, T DType, T M, T N, T K, ReadOnlyMemory<T> BatchShape,
    T AOffset, ReadOnlyMemory<T> ABatchStrides, T ARowStride, T AColStride,
    T BOffset, ReadOnlyMemory<T> BBatchStrides, T BRowStride, T BColStride)
{
    /// <summary>The positional encoding of a plan step; <paramref name="rank"/> converts the batch rank.</summary>
    public T[] Encode(Func<int, T> rank) =>
    [
        A, B, C, DType, M, N, K, rank(BatchShape.Length), .. BatchShape.Span,
        AOffset, .. ABatchStrides.Span, ARowStride, AColStride, BOffset, .. BBatchStrides.Span, BRowStride, BColStride,
    ];
}

/// <summary>
/// Where each field of a batched product's arguments sits for batch rank <see cref="Rank"/>; <see cref="BatchedMatMulArgs.Read"/>
/// slices the step's arguments through it.
/// </summary>
/// <param name="Rank">The batch rank.</param>
internal readonly record struct BatchedMatMulLayout(int Rank)
{
    /// <summary>Fields before the batch shape.</summary>
    public const int ShapeAt = 8;

    /// <summary>The layout of a step's arguments (the batch rank is argument 7).</summary>
    public static BatchedMatMulLayout Of(long[] a) => new((int)a[7]);

    /// <summary>A's offset.</summary>
    public int AOffsetAt => ShapeAt + Rank;

    /// <summary>A's batch strides.</summary>
    public int AStridesAt => AOffsetAt + 1;

    /// <summary>A's row stride (its column stride follows).</summary>
    public int ARowStrideAt => AStridesAt + Rank;

    /// <summary>B's offset.</summary>
    public int BOffsetAt => ARowStrideAt + 2;

    /// <summary>B's batch strides.</summary>
    public int BStridesAt => BOffsetAt + 1;

    /// <summary>B's row stride (its column stride follows).</summary>
    public int BRowStrideAt => BStridesAt + Rank;

    /// <summary>The argument count.</summary>
    public int Count => BRowStrideAt + 2;
}

/// <summary>Kernel names, decoding and accesses of <see cref="BatchedMatMulArgs{T}"/>.</summary>
internal static class BatchedMatMulArgs
{
    /// <summary>The float32 kernel's name in a plan step.</summary>
    public const string SgemmKernel = "rt:sgemm";

    /// <summary>The general kernel's name in a plan step.</summary>
    public const string MatMulKernel = "rt:matmul";

    /// <summary>Reads the arguments without checks (the kernels' hot path; the plan checked them at binding).</summary>
    public static BatchedMatMulArgs<long> Read(long[] a)
    {
        var l = BatchedMatMulLayout.Of(a);
        return new(
            a[0], a[1], a[2], a[3], a[4], a[5], a[6], a.AsMemory(BatchedMatMulLayout.ShapeAt, l.Rank),
            a[l.AOffsetAt], a.AsMemory(l.AStridesAt, l.Rank), a[l.ARowStrideAt], a[l.ARowStrideAt + 1],
            a[l.BOffsetAt], a.AsMemory(l.BStridesAt, l.Rank), a[l.BRowStrideAt], a[l.BRowStrideAt + 1]);
    }

    /// <summary>Reads and checks the arguments.</summary>
    public static BatchedMatMulArgs<long> Decode(long[] a)
    {
        if (a.Length < BatchedMatMulLayout.ShapeAt) throw new PlanFormatException($"{a.Length} arguments, at least {BatchedMatMulLayout.ShapeAt} expected");
        var l = new BatchedMatMulLayout(ArgCheck.Rank(a[7], "batch rank"));
        ArgCheck.Count(a, l.Count, l.Count);
        var p = Read(a);
        ArgCheck.Slot(p.A, "a");
        ArgCheck.Slot(p.B, "b");
        ArgCheck.Slot(p.C, "c");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.Size(p.M, "M");
        ArgCheck.Size(p.N, "N");
        ArgCheck.Size(p.K, "K");
        ArgCheck.Sizes(p.BatchShape.Span, "batch size");
        return p;
    }

    /// <summary>The bytes the step reads and writes; <paramref name="rows"/> is the step's work for <c>rt:matmul</c>, or null for <c>rt:sgemm</c>.</summary>
    public static IEnumerable<StepExtent> Accesses(BatchedMatMulArgs<long> p, long? rows)
    {
        long es = ArgCheck.DType(p.DType, "dtype");
        if (rows is null && p.DType != (long)DType.F32) throw new PlanFormatException($"sgemm multiplies float32, not dtype {p.DType}");
        long batch = ArgCheck.Product(p.BatchShape.Span);
        long cRows = StepExtent.Mul(batch, p.M);
        if (rows is { } r && r != cRows) throw new PlanFormatException($"the step covers {r} rows but C has {cRows}");
        if (p.M == 0 || p.N == 0) yield break;
        yield return StepExtent.Of(p.A, es, p.AOffset, [.. p.BatchShape.Span, p.M, p.K], [.. p.ABatchStrides.Span, p.ARowStride, p.AColStride], writes: false);
        yield return StepExtent.Of(p.B, es, p.BOffset, [.. p.BatchShape.Span, p.K, p.N], [.. p.BBatchStrides.Span, p.BRowStride, p.BColStride], writes: false);
        yield return StepExtent.Dense(p.C, es, 0, StepExtent.Mul(cRows, p.N), writes: true);
    }
}
