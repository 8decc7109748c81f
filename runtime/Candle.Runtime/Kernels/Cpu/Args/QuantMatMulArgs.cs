using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:quant_matmul</c> (<see cref="QuantMatMulKernel.Run"/>), y[m, n] = Σ_k x[m, k]·w[n, k] with
/// x float32 [rows, k] and y float32 [rows, n] dense, w [n, k] stored in ggml blocks of <see cref="GgmlType"/>
/// <c>type</c>: <c>x, w, y, type, rows, n, k</c>. One work item; the kernel splits the weight rows over the workers.
/// </summary>
internal readonly record struct QuantMatMulArgs<T>(T X, T W, T Y, T Type, T Rows, T N, T K)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [X, W, Y, Type, Rows, N, K];
}

/// <summary>Kernel name, decoding and accesses of <see cref="QuantMatMulArgs{T}"/>.</summary>
internal static class QuantMatMulArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:quant_matmul";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static QuantMatMulArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);

    /// <summary>Reads and checks the arguments.</summary>
    public static QuantMatMulArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 7, 7);
        var p = Read(a);
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

    /// <summary>The bytes the step reads and writes (one work item).</summary>
    public static IEnumerable<StepExtent> Accesses(QuantMatMulArgs<long> p, long work)
    {
        if (work != 1) throw new PlanFormatException($"the step covers {work} items, not 1");
        if (p.N == 0 || p.Rows == 0) yield break;
        yield return StepExtent.Dense(p.X, sizeof(float), 0, StepExtent.Mul(p.Rows, p.K), writes: false);
        yield return StepExtent.Dense(p.W, 1, 0, WeightBytes(p.Type, p.N, p.K), writes: false);
        yield return StepExtent.Dense(p.Y, sizeof(float), 0, StepExtent.Mul(p.Rows, p.N), writes: true);
    }
}
