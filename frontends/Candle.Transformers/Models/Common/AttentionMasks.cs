using Candle.Torch;

namespace Candle.Transformers.Models.Common;

/// <summary>Masks built in the graph from positions, so they follow symbolic sequence and cache lengths.</summary>
public static class AttentionMasks
{
    /// <summary>
    /// The sliding-window keep mask (transformers' <c>sliding_window_overlay</c>: key k is seen by query q when
    /// k &gt; q − window) for query positions <paramref name="queryPositions"/> i64[batch, seq] against keys at
    /// positions 0..<paramref name="keyCount"/>−1: bool[batch, 1, seq, keys]. Causality is left to the attention op.
    /// </summary>
    public static Tensor SlidingWindow(Tensor queryPositions, Compiler.Ir.Dim keyCount, int window)
    {
        ArgumentNullException.ThrowIfNull(queryPositions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        var q = queryPositions.Unsqueeze(1).Unsqueeze(-1);
        var k = Tensors.Arange(keyCount);
        return (q - k) < window;
    }

    /// <summary>
    /// The keep mask [batch, 1, seq, seq] of a padding mask [batch, seq] (nonzero attend, 0 padding): a query sees the
    /// keys that are not padding, and always itself, so that a padded query row never has every key masked (its
    /// softmax would be NaN, and NaN values behind masked keys would reach the other rows through the value product).
    /// </summary>
    public static Tensor Padding(Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(attentionMask);
        var seq = attentionMask.Shape[1];
        var keep = attentionMask.Ne(0).Unsqueeze(1).Unsqueeze(1);
        var q = Tensors.Arange(seq).Unsqueeze(-1);
        var k = Tensors.Arange(seq).Unsqueeze(0);
        return keep | ((q >= k) & (q <= k));
    }
}
