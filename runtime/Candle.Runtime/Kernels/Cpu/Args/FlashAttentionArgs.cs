using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>
/// The arguments of <c>rt:flash_attention</c> (<see cref="FlashAttentionKernel"/>): q, k and v as (slot, offset,
/// batch/head/sequence strides) with unit stride along the head dim, the mask as (slot (−1 none), offset,
/// batch/head/query/key strides, isBool), then <c>y, B, Hq, Hk, Sq, Sk, D, Dv, scaleBits, causal, blockQ,
/// vectorBits</c>; the output is dense [B, Hq, Sq, Dv]. Work items are (batch, head, query block) triples.
/// </summary>
internal readonly record struct FlashAttentionArgs<T>(
    T Q, T QOffset, T QStrideB, T QStrideH, T QStrideS,
    T K, T KOffset, T KStrideB, T KStrideH, T KStrideS,
    T V, T VOffset, T VStrideB, T VStrideH, T VStrideS,
    T Mask, T MaskOffset, T MaskStrideB, T MaskStrideH, T MaskStrideS, T MaskStrideK, T MaskIsBool,
    T Y, T Batch, T QHeads, T KvHeads, T QLength, T KvLength, T HeadDim, T ValueDim, T ScaleBits, T Causal, T BlockQ, T VectorBits)
{
    /// <summary>The positional encoding of a plan step.</summary>
    public T[] Encode() =>
    [
        Q, QOffset, QStrideB, QStrideH, QStrideS, K, KOffset, KStrideB, KStrideH, KStrideS, V, VOffset, VStrideB, VStrideH, VStrideS,
        Mask, MaskOffset, MaskStrideB, MaskStrideH, MaskStrideS, MaskStrideK, MaskIsBool,
        Y, Batch, QHeads, KvHeads, QLength, KvLength, HeadDim, ValueDim, ScaleBits, Causal, BlockQ, VectorBits,
    ];
}

/// <summary>Kernel name, decoding and accesses of <see cref="FlashAttentionArgs{T}"/>.</summary>
internal static class FlashAttentionArgs
{
    /// <summary>The kernel's name in a plan step.</summary>
    public const string Kernel = "rt:flash_attention";

    /// <summary>Reads the arguments without checks (the kernel's hot path).</summary>
    public static FlashAttentionArgs<long> Read(long[] a) => new(
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14],
        a[15], a[16], a[17], a[18], a[19], a[20], a[21],
        a[22], a[23], a[24], a[25], a[26], a[27], a[28], a[29], a[30], a[31], a[32], a.Length > 33 ? a[33] : 0);

    /// <summary>Reads and checks the arguments.</summary>
    public static FlashAttentionArgs<long> Decode(long[] a)
    {
        ArgCheck.Count(a, 33, 34);
        var p = Read(a);
        ArgCheck.Slot(p.Q, "q");
        ArgCheck.Slot(p.K, "k");
        ArgCheck.Slot(p.V, "v");
        ArgCheck.Slot(p.Mask, "mask", optional: true);
        ArgCheck.Flag(p.MaskIsBool, "mask is bool");
        ArgCheck.Slot(p.Y, "y");
        HeadCheck.Heads(p.Batch, p.QHeads, p.KvHeads, p.QLength, p.KvLength, p.HeadDim, p.ValueDim);
        ArgCheck.Flag(p.Causal, "causal");
        if (p.BlockQ is < 1 or > 4096) throw new PlanFormatException($"query block {p.BlockQ} is outside [1, 4096]");
        ArgCheck.VectorBits(p.VectorBits);
        return p;
    }

    /// <summary>The bytes the step reads and writes over <paramref name="work"/> (batch, head, query block) items.</summary>
    public static IEnumerable<StepExtent> Accesses(FlashAttentionArgs<long> p, long work)
    {
        long bh = StepExtent.Mul(p.Batch, p.QHeads);
        long items = StepExtent.Mul(bh, (p.QLength / p.BlockQ) + (p.QLength % p.BlockQ == 0 ? 0 : 1));
        if (work != items) throw new PlanFormatException($"the step covers {work} items but B·Hq·⌈Sq/blockQ⌉ is {items}");
        const long f = sizeof(float);
        yield return StepExtent.Of(p.Q, f, p.QOffset, [p.Batch, p.QHeads, p.QLength, p.HeadDim], [p.QStrideB, p.QStrideH, p.QStrideS, 1], writes: false);
        yield return StepExtent.Of(p.K, f, p.KOffset, [p.Batch, p.KvHeads, p.KvLength, p.HeadDim], [p.KStrideB, p.KStrideH, p.KStrideS, 1], writes: false);
        yield return StepExtent.Of(p.V, f, p.VOffset, [p.Batch, p.KvHeads, p.KvLength, p.ValueDim], [p.VStrideB, p.VStrideH, p.VStrideS, 1], writes: false);
        if (p.Mask >= 0)
        {
            yield return StepExtent.Of(
                p.Mask, p.MaskIsBool != 0 ? 1 : f, p.MaskOffset, [p.Batch, p.QHeads, p.QLength, p.KvLength], [p.MaskStrideB, p.MaskStrideH, p.MaskStrideS, p.MaskStrideK], writes: false);
        }

        yield return StepExtent.Dense(p.Y, f, 0, StepExtent.Mul(StepExtent.Mul(bh, p.QLength), p.ValueDim), writes: true);
    }
}
