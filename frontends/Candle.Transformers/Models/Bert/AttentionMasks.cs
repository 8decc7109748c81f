using Candle.Runtime;
using Candle.Torch;

namespace Candle.Transformers.Models.Bert;

/// <summary>The attention masks of the encoder architectures, as transformers builds them.</summary>
public static class AttentionMasks
{
    /// <summary>torch.finfo(dtype).min: the additive bias transformers gives masked keys.</summary>
    /// <exception cref="ArgumentException">The dtype is not a float type.</exception>
    public static double MinValue(DType dtype) => dtype switch
    {
        DType.F32 => float.MinValue,
        DType.F64 => double.MinValue,
        DType.F16 => -65504.0,
        DType.BF16 => -3.3895313892515355e38,
        _ => throw new ArgumentException($"{dtype.TorchName()} is not a floating-point dtype", nameof(dtype)),
    };

    /// <summary>
    /// BertModel's extended attention mask: a [batch, seq] mask of 1 (attend) and 0 (padding) becomes the additive bias
    /// (1 − mask) · finfo(dtype).min of shape [batch, 1, 1, seq], which broadcasts over heads and query positions.
    /// </summary>
    public static Tensor ExtendedPaddingBias(Tensor attentionMask, DType dtype)
    {
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (attentionMask.Rank != 2)
        {
            throw new ArgumentException($"attention_mask must be [batch, seq], got {attentionMask.TypeString}", nameof(attentionMask));
        }

        var m = attentionMask.To(dtype).Unsqueeze(1).Unsqueeze(1);
        return (1.0 - m) * MinValue(dtype);
    }
}
