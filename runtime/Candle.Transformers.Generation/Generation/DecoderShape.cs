using Candle.Runtime;

namespace Candle.Transformers.Generation;

/// <summary>
/// What generation needs to know of a causal language model besides its compiled steps: the KV cache's shape, the
/// vocabulary, the positions it supports and its stop tokens. A compiled model directory records it in
/// <see cref="CompiledLanguageModel.ManifestFile"/>; a model traced from a checkpoint reports it from its config.
/// </summary>
/// <param name="ModelType">The config's <c>model_type</c> (<c>llama</c>, <c>gpt2</c>, …).</param>
/// <param name="NumLayers">Number of layers (one key and one value cache each).</param>
/// <param name="NumKvHeads">Key/value heads per layer.</param>
/// <param name="HeadDim">Size of each cached key and value vector.</param>
/// <param name="VocabSize">Vocabulary size (the last dim of the logits).</param>
/// <param name="MaxPositions">The most positions the model supports.</param>
/// <param name="DType">The dtype of the KV cache (the dtype the model computes in, or f16 when the model was loaded with an f16 cache).</param>
/// <param name="EosTokenIds">The end-of-sequence token ids.</param>
public sealed record DecoderShape(
    string ModelType,
    int NumLayers,
    int NumKvHeads,
    int HeadDim,
    int VocabSize,
    int MaxPositions,
    DType DType,
    IReadOnlyList<int> EosTokenIds)
{
    /// <summary>Checks that every size is positive and every stop token lies in the vocabulary.</summary>
    /// <param name="origin">What the shape was read from, named in the exception.</param>
    /// <exception cref="InvalidDataException">A size is not positive (or more than 1024 layers), or an end-of-sequence id is outside the vocabulary.</exception>
    public void Validate(string origin)
    {
        if (NumLayers is < 1 or > 1024 || NumKvHeads < 1 || HeadDim < 1 || VocabSize < 1 || MaxPositions < 1)
        {
            throw new InvalidDataException(
                $"{origin}: sizes must be positive (num_layers ≤ 1024): num_layers {NumLayers}, num_kv_heads {NumKvHeads}, head_dim {HeadDim}, vocab_size {VocabSize}, max_positions {MaxPositions}");
        }

        if (EosTokenIds is null || EosTokenIds.Any(t => t < 0 || t >= VocabSize)) throw new InvalidDataException($"{origin}: eos_token_ids must lie in the vocabulary [0, {VocabSize})");
    }
}
