namespace Candle.Transformers.Embeddings;

/// <summary>How a sentence embedding is made from the encoder's per-token hidden states.</summary>
public enum Pooling
{
    /// <summary>The mean over the tokens the attention mask keeps (sentence-transformers' default).</summary>
    Mean,

    /// <summary>The hidden state of the first token ([CLS]).</summary>
    Cls,
}
