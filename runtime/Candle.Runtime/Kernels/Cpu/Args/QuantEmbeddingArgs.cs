using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:quant_embedding</c> (<see cref="QuantMatMulKernel.Embedding"/>), y[j, :] = dequantized row
/// index[j] of w [rows, cols] stored in ggml blocks of <c>type</c>: <c>w, index, indexDType, y, type, rows, cols, count</c>.
/// Work items are the looked-up positions; each index is range-checked against rows.
/// </summary>
internal readonly record struct QuantEmbeddingArgs<T>(T W, T Index, T IndexDType, T Y, T Type, T Rows, T Cols, T Count)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [W, Index, IndexDType, Y, Type, Rows, Cols, Count];
}

/// <summary>Kernel name, decoding and accesses of <see cref="QuantEmbeddingArgs{T}"/>.</summary>
internal static class QuantEmbeddingArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:quant_embedding";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static QuantEmbeddingArgs<long> Read(long[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);

    /// <summary>Reads and checks the arguments.</summary>
    public static QuantEmbeddingArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 8, 8);
        var p = Read(a);
        ArgCheck.Slot(p.W, "w");
        ArgCheck.Slot(p.Index, "index");
        ArgCheck.DType(p.IndexDType, "index dtype");
        ArgCheck.Slot(p.Y, "y");
        QuantMatMulArgs.QuantType(p.Type, p.Cols, "cols");
        ArgCheck.Size(p.Rows, "rows");
        ArgCheck.Size(p.Count, "count");
        if (p.Cols > int.MaxValue) throw new PlanFormatException($"rows of {p.Cols} values are too long");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> positions.</summary>
    public static IEnumerable<StepExtent> Accesses(QuantEmbeddingArgs<long> p, long work)
    {
        if (work != p.Count) throw new PlanFormatException($"the step covers {work} items but looks up {p.Count} rows");
        if (work == 0) yield break;
        yield return StepExtent.Dense(p.W, 1, 0, QuantMatMulArgs.WeightBytes(p.Type, p.Rows, p.Cols), writes: false);
        yield return StepExtent.Dense(p.Index, ArgCheck.DType(p.IndexDType, "index dtype"), 0, p.Count, writes: false);
        yield return StepExtent.Dense(p.Y, sizeof(float), 0, StepExtent.Mul(p.Count, p.Cols), writes: true);
    }
}
