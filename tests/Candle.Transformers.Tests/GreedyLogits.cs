using Candle.Runtime.Tensors;

namespace Candle.Transformers.Tests;

/// <summary>Greedy choice over a logits tensor, shared by the decode-loop tests.</summary>
internal static class GreedyLogits
{
    /// <summary>The index of the largest logit of the last row (the first one on ties).</summary>
    public static int ArgMaxLast(HostTensor logits)
    {
        var v = logits.ToFloat32();
        int vocab = logits.Shape[^1], start = v.Length - vocab, best = start;
        for (int i = start; i < v.Length; i++)
        {
            if (v[i] > v[best]) best = i;
        }

        return best - start;
    }
}
