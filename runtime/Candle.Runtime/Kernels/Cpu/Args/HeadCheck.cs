using Candle.Runtime.Plans;

namespace Candle.Runtime.Kernels.Cpu.Args;

/// <summary>The checks of an attention step's head geometry shared by the dense and flash attention records.</summary>
internal static class HeadCheck
{
    /// <summary>Requires sizes ≥ 0 and key/value heads that divide the query heads (grouped-query attention).</summary>
    public static void Heads(long batch, long qHeads, long kvHeads, long qLength, long kvLength, long headDim, long valueDim)
    {
        ArgCheck.Size(batch, "batch");
        ArgCheck.Size(qHeads, "query heads");
        ArgCheck.Size(kvHeads, "key/value heads");
        ArgCheck.Size(qLength, "query length");
        ArgCheck.Size(kvLength, "key length");
        ArgCheck.Size(headDim, "head dim");
        ArgCheck.Size(valueDim, "value dim");
        if (qHeads > 0 && (kvHeads == 0 || kvHeads > qHeads || qHeads % kvHeads != 0))
        {
            throw new PlanFormatException($"{kvHeads} key/value heads do not divide {qHeads} query heads");
        }
    }
}
