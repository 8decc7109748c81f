using Candle.Torch;

namespace Candle.Transformers.Models.Bert;

/// <summary>Splits hidden states into attention heads and merges them back.</summary>
public static class Heads
{
    /// <summary>[batch, seq, heads·headDim] → [batch, heads, seq, headDim].</summary>
    public static Tensor Split(Tensor x, int heads, int headDim)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x.View(x.Shape[0], x.Shape[1], heads, headDim).Transpose(1, 2);
    }

    /// <summary>[batch, heads, seq, headDim] → [batch, seq, heads·headDim].</summary>
    public static Tensor Merge(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var t = x.Transpose(1, 2);
        return t.View(t.Shape[0], t.Shape[1], t.Shape[2] * t.Shape[3]);
    }
}
