using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:attention</c> (<see cref="AttentionKernels.Attention"/>), over dense operands:
/// <c>q, k, v, mask (−1 none), y, dtype, maskDType, B, Hq, Hk, Sq, Sk, D, Dv, scaleBits, causal</c>. Work items are
/// (batch, head, query) triples.
/// </summary>
internal readonly record struct AttentionArgs<T>(
    T Q, T K, T V, T Mask, T Y, T DType, T MaskDType, T Batch, T QHeads, T KvHeads, T QLength, T KvLength, T HeadDim, T ValueDim, T ScaleBits, T Causal)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() => [Q, K, V, Mask, Y, DType, MaskDType, Batch, QHeads, KvHeads, QLength, KvLength, HeadDim, ValueDim, ScaleBits, Causal];
}

/// <summary>Kernel name, decoding and accesses of <see cref="AttentionArgs{T}"/>.</summary>
internal static class AttentionArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:attention";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static AttentionArgs<long> Read(long[] a) =>
        new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);

    /// <summary>Reads and checks the arguments.</summary>
    public static AttentionArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 16, 16);
        var p = Read(a);
        ArgCheck.Slot(p.Q, "q");
        ArgCheck.Slot(p.K, "k");
        ArgCheck.Slot(p.V, "v");
        ArgCheck.Slot(p.Mask, "mask", optional: true);
        ArgCheck.Slot(p.Y, "y");
        ArgCheck.DType(p.DType, "dtype");
        ArgCheck.DType(p.MaskDType, "mask dtype");
        HeadCheck.Heads(p.Batch, p.QHeads, p.KvHeads, p.QLength, p.KvLength, p.HeadDim, p.ValueDim);
        ArgCheck.Flag(p.Causal, "causal");
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> (batch, head, query) items.</summary>
    public static IEnumerable<StepExtent> Accesses(AttentionArgs<long> p, long work)
    {
        long es = ArgCheck.DType(p.DType, "dtype");
        long queries = StepExtent.Mul(StepExtent.Mul(p.Batch, p.QHeads), p.QLength);
        if (work != queries) throw new PlanFormatException($"the step covers {work} queries but B·Hq·Sq is {queries}");
        long keys = StepExtent.Mul(StepExtent.Mul(p.Batch, p.KvHeads), p.KvLength);
        yield return StepExtent.Dense(p.Q, es, 0, StepExtent.Mul(queries, p.HeadDim), writes: false);
        yield return StepExtent.Dense(p.K, es, 0, StepExtent.Mul(keys, p.HeadDim), writes: false);
        yield return StepExtent.Dense(p.V, es, 0, StepExtent.Mul(keys, p.ValueDim), writes: false);
        if (p.Mask >= 0) yield return StepExtent.Dense(p.Mask, ArgCheck.DType(p.MaskDType, "mask dtype"), 0, StepExtent.Mul(queries, p.KvLength), writes: false);
        yield return StepExtent.Dense(p.Y, es, 0, StepExtent.Mul(queries, p.ValueDim), writes: true);
    }
}
