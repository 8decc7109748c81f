using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// A decoder-only language model that generates with a KV cache. Besides the full forward pass
/// (<see cref="IPretrainedModel.TraceForward"/>: <c>input_ids</c> → <c>logits</c>) it traces two step graphs whose
/// inputs and outputs are named by <see cref="DecoderGraphNames"/>; both have symbolic lengths, so each is compiled
/// once and serves every prompt length and every cache length.
/// </summary>
public interface ICausalLanguageModel : IPretrainedModel
{
    /// <summary>Number of layers (one key and one value cache each).</summary>
    int NumLayers { get; }

    /// <summary>Key/value heads per layer.</summary>
    int NumKvHeads { get; }

    /// <summary>Size of each cached key and value vector.</summary>
    int HeadDim { get; }

    /// <summary>Vocabulary size (the last dim of the logits).</summary>
    int VocabSize { get; }

    /// <summary>The most positions the model supports.</summary>
    int MaxPositions { get; }

    /// <summary>The dtype the model computes in.</summary>
    DType DType { get; }

    /// <summary>The dtype of the KV cache the decode step reads and writes (<see cref="DType"/> unless chosen otherwise).</summary>
    DType KvCacheDType => DType;

    /// <summary>The end-of-sequence token ids from the config.</summary>
    IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>
    /// The prefill step: <c>input_ids</c> i64[batch, seq] (positions 0..seq−1) → <c>logits</c> f32[batch, 1, vocab] of
    /// the last position, and per layer <c>new_keys.{i}</c>, <c>new_values.{i}</c> [seq, batch, kv_heads, head_dim].
    /// </summary>
    Graph TracePrefill();

    /// <summary>
    /// The full forward pass (no cache) with a padding mask: inputs <c>input_ids</c> and <c>attention_mask</c>
    /// [batch, seq] (1 attend, 0 padding), output <c>logits</c>. Positions are 0..seq-1 as transformers' forward
    /// uses them when no <c>position_ids</c> are given; padded keys are never attended. The logits of padded query
    /// positions are not meaningful (each attends only to itself).
    /// </summary>
    Graph TraceForwardWithAttentionMask();

    /// <summary>
    /// The decode step: <c>input_ids</c> i64[batch, 1], <c>position_ids</c> i64[batch, 1] and per layer the donated
    /// cache rows <c>cache_keys.{i}</c>, <c>cache_values.{i}</c> [kv, batch, kv_heads, head_dim] (the cached positions
    /// and room for the new one) → <c>logits</c> f32[batch, 1, vocab] and <c>present_keys.{i}</c>,
    /// <c>present_values.{i}</c>: the rows with the new entry written into the last one (in place by compiled plans).
    /// </summary>
    Graph TraceDecode();

    /// <summary>
    /// The prefill step from any position (a prompt prefilled in chunks, a conversation's next turn): <c>input_ids</c>
    /// and <c>position_ids</c> i64[batch, seq] and per layer the donated cache rows <c>cache_keys.{i}</c>,
    /// <c>cache_values.{i}</c> [kv, batch, kv_heads, head_dim] (the cached positions and room for the seq new ones) →
    /// <c>logits</c> f32[batch, 1, vocab] of the last position and <c>present_keys.{i}</c>, <c>present_values.{i}</c>:
    /// the rows with the new entries written into the last seq (in place by compiled plans).
    /// </summary>
    Graph TracePrefillChunk();
}
