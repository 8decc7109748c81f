using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:quant_matmul</c> (<see cref="QuantMatMulKernel.Run"/>), y[m, n] = Σ_k x[m, k]·w[n, k] with
/// x float32 [rows, k] and y float32 [rows, n] dense, w [n, k] stored in ggml blocks of <see cref="GgmlType"/>
/// <c>type</c>: <c>x, w, y, type, rows, n, k</c>. With an epilogue (<c>rt:quant_matmul@gen:NAME</c>, a generated
/// elementwise kernel over y's rows·n elements that writes y) the step is
/// <c>epilogueArgs[E], x, w, y, type, rows, n, k, product, E</c>: the epilogue's own arguments first, and
/// <c>product</c> the slot the epilogue reads the product's values from (the kernel points it at its scratch; the
/// buffer itself is never read). One work item; the kernel splits the weight rows over the workers.
/// </summary>
internal readonly record struct QuantMatMulArgs<T>(T X, T W, T Y, T Type, T Rows, T N, T K)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, W, Y, Type, Rows, N, K];

    /// <summary>The positional encoding of a plan step with an epilogue reading the product from slot <paramref name="product"/>.</summary>
    public T[] Encode(IReadOnlyList<T> epilogue, T product, Func<int, T> count) => [.. epilogue, X, W, Y, Type, Rows, N, K, product, count(epilogue.Count)];
}

/// <summary>Kernel name, decoding and accesses of <see cref="QuantMatMulArgs{T}"/>.</summary>
internal static class QuantMatMulArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:quant_matmul";

    private const int Fields = 7;

    /// <summary>Reads the arguments without checks (the kernel's hot path), with or without an epilogue.</summary>
    public static QuantMatMulArgs<long> Read(long[] a)
    {
        int e = a.Length == Fields ? 0 : (int)a[^1];
        return new(a[e], a[e + 1], a[e + 2], a[e + 3], a[e + 4], a[e + 5], a[e + 6]);
    }

    /// <summary>The slot the epilogue reads the product from (a step with an epilogue).</summary>
    public static long Product(long[] a) => a[^2];

    /// <summary>The epilogue's arguments (a step with an epilogue).</summary>
    public static long[] Epilogue(long[] a) => a[..(int)a[^1]];

    /// <summary>Reads and checks the arguments of a step without an epilogue.</summary>
    public static QuantMatMulArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, Fields, Fields);
        return Check(Read(a));
    }

    /// <summary>Reads and checks the arguments of a step with an epilogue.</summary>
    public static QuantMatMulArgs<long> DecodeWithEpilogue(long[] a)
    {
        if (a.Length < Fields + 2) throw new PlanFormatException($"{a.Length} arguments, at least {Fields + 2} expected");
        long e = a[^1];
        if (e < 0 || e + Fields + 2 != a.Length) throw new PlanFormatException($"epilogue argument count {e} does not fit the step's {a.Length} arguments");
        ArgCheck.Slot(Product(a), "product");
        return Check(Read(a));
    }

    private static QuantMatMulArgs<long> Check(QuantMatMulArgs<long> p)
    {
        ArgCheck.Slot(p.X, "x");
        ArgCheck.Slot(p.W, "w");
        ArgCheck.Slot(p.Y, "y");
        QuantType(p.Type, p.K, "k");
        ArgCheck.Size(p.Rows, "rows");
        ArgCheck.Size(p.N, "n");
        if (p.N > int.MaxValue || p.K > int.MaxValue) throw new PlanFormatException($"quantized matrix [{p.N}, {p.K}] is too large");
        return p;
    }

    /// <summary>Requires a ggml type with quantized kernels whose blocks divide <paramref name="cols"/>.</summary>
    public static void QuantType(long type, long cols, string field)
    {
        if (type < 0 || type > int.MaxValue || !QuantizedTensor.IsSupported((GgmlType)type))
        {
            throw new PlanFormatException($"ggml type {type} has no quantized kernels");
        }

        ArgCheck.Size(cols, field);
        int bs = GgmlTypeTraits.BlockSize((GgmlType)type);
        if (cols % bs != 0) throw new PlanFormatException($"{field} {cols} is not a whole number of {bs}-value {GgmlTypeTraits.Name((GgmlType)type)} blocks");
    }

    /// <summary>The bytes of <paramref name="rows"/> rows of <paramref name="cols"/> values in <paramref name="type"/>.</summary>
    public static long WeightBytes(long type, long rows, long cols) =>
        StepExtent.Mul(rows, cols / GgmlTypeTraits.BlockSize((GgmlType)type) * GgmlTypeTraits.BlockBytes((GgmlType)type));

    /// <summary>
    /// The bytes the step reads and writes (one work item). With an epilogue (<paramref name="epilogue"/>: its
    /// accesses over rows·n items) y is written by the epilogue, whose reads of the product slot are of the kernel's
    /// scratch and are left out.
    /// </summary>
    public static IEnumerable<StepExtent> Accesses(QuantMatMulArgs<long> p, long work, IEnumerable<StepExtent>? epilogue = null, long product = -1)
    {
        if (work != 1) throw new PlanFormatException($"the step covers {work} items, not 1");
        if (p.N == 0 || p.Rows == 0) yield break;
        yield return StepExtent.Dense(p.X, sizeof(float), 0, StepExtent.Mul(p.Rows, p.K), writes: false);
        yield return StepExtent.Dense(p.W, 1, 0, WeightBytes(p.Type, p.N, p.K), writes: false);
        if (epilogue is null)
        {
            yield return StepExtent.Dense(p.Y, sizeof(float), 0, StepExtent.Mul(p.Rows, p.N), writes: true);
            yield break;
        }

        foreach (var e in epilogue)
        {
            if (e.Slot != product || e.Writes) yield return e;
        }
    }
}
