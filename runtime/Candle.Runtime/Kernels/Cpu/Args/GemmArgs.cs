using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:gemm</c> (<see cref="GemmKernel"/>), C[M, N] = A[M, K] · B[K, N] with C dense:
/// <c>epilogueArgs[E], a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, c, M, N, K, prepack,
/// bType, E</c> (offsets and strides in elements; bType the dtype B is stored in, absent in older plans: float32).
/// The epilogue's own arguments, those of a generated kernel (<see cref="GeneratedArgs"/>) over C's M·N elements,
/// come first. One work item.
/// </summary>
internal readonly record struct GemmArgs<T>(
    T A, T AOffset, T ARowStride, T AColStride, T B, T BOffset, T BRowStride, T BColStride, T C, T M, T N, T K, T Prepack, T BType)
{
    /// <summary>The positional encoding of a plan step: the epilogue's arguments, the product's, then the epilogue's argument count.</summary>
    public T[] Encode(IReadOnlyList<T> epilogue, Func<int, T> count) =>
        [.. epilogue, A, AOffset, ARowStride, AColStride, B, BOffset, BRowStride, BColStride, C, M, N, K, Prepack, BType, count(epilogue.Count)];
}

/// <summary>Kernel name, decoding and accesses of <see cref="GemmArgs{T}"/>.</summary>
internal static class GemmArgs
{
    /// <summary>The kernel's name in a plan step (a generated epilogue is appended as <c>@gen:NAME</c>).</summary>
    public const string Kernel = "rt:gemm";

    private const int Fields = 14;

    /// <summary>The epilogue's argument count (the first arguments of the step).</summary>
    /// <exception cref="ArgumentException">The count is symbolic or does not fit the step's arguments.</exception>
    public static int EpilogueCount(IReadOnlyList<long?> a)
    {
        if (a.Count < Fields) throw new ArgumentException($"gemm: {a.Count} arguments, at least {Fields} expected");
        long e = a[^1] ?? throw new ArgumentException("gemm: the epilogue argument count must be constant");
        return e >= 0 && (e + Fields == a.Count || e + Fields + 1 == a.Count)
            ? (int)e
            : throw new ArgumentException($"gemm: epilogue argument count {e} does not fit the step's {a.Count} arguments");
    }

    /// <summary>Reads the product's arguments without checks (the kernel's hot path).</summary>
    public static GemmArgs<long> Read(long[] a)
    {
        int e = (int)a[^1];
        return new(a[e], a[e + 1], a[e + 2], a[e + 3], a[e + 4], a[e + 5], a[e + 6], a[e + 7], a[e + 8], a[e + 9], a[e + 10], a[e + 11], a[e + 12],
            a.Length > e + Fields ? a[e + 13] : (long)DType.F32);
    }

    /// <summary>Reads the product's arguments from a step's constant arguments (null where symbolic) when the plan is prepared.</summary>
    public static GemmArgs<long?> Read(IReadOnlyList<long?> a)
    {
        int e = EpilogueCount(a);
        return new(a[e], a[e + 1], a[e + 2], a[e + 3], a[e + 4], a[e + 5], a[e + 6], a[e + 7], a[e + 8], a[e + 9], a[e + 10], a[e + 11], a[e + 12],
            a.Count > e + Fields ? a[e + 13] : (long)DType.F32);
    }

    /// <summary>The epilogue's arguments.</summary>
    public static long[] Epilogue(long[] a) => a[..(int)a[^1]];

    /// <summary>Reads and checks the product's arguments.</summary>
    public static GemmArgs<long> Decode(long[] a)
    {
        if (a.Length < Fields) throw new PlanFormatException($"{a.Length} arguments, at least {Fields} expected");
        long e = a[^1];
        if (e < 0 || (e + Fields != a.Length && e + Fields + 1 != a.Length))
        {
            throw new PlanFormatException($"epilogue argument count {e} does not fit the step's {a.Length} arguments");
        }

        var p = Read(a);
        ArgCheck.Slot(p.A, "a");
        ArgCheck.Slot(p.B, "b");
        ArgCheck.Slot(p.C, "c");
        ArgCheck.Size(p.M, "M");
        ArgCheck.Size(p.N, "N");
        ArgCheck.Size(p.K, "K");
        ArgCheck.Flag(p.Prepack, "prepack");
        if (p.BType is not ((long)DType.F32 or (long)DType.BF16)) throw new PlanFormatException($"B dtype {p.BType} is not float32 or bfloat16");
        return p;
    }

    /// <summary>The bytes the product reads and writes (the epilogue's are those of its generated kernel over M·N items).</summary>
    public static IEnumerable<StepExtent> Accesses(GemmArgs<long> p)
    {
        yield return StepExtent.Of(p.A, sizeof(float), p.AOffset, [p.M, p.K], [p.ARowStride, p.AColStride], writes: false);
        yield return StepExtent.Of(p.B, ((DType)p.BType).SizeInBytes(), p.BOffset, [p.K, p.N], [p.BRowStride, p.BColStride], writes: false);
        yield return StepExtent.Dense(p.C, sizeof(float), 0, StepExtent.Mul(p.M, p.N), writes: true);
    }
}
