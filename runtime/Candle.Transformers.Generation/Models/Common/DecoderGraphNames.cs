using System.Globalization;

namespace Candle.Transformers.Models.Common;

/// <summary>The input and output names of the graphs that causal language models trace.</summary>
public static class DecoderGraphNames
{
    /// <summary>Token ids, i64[batch, seq].</summary>
    public const string InputIds = "input_ids";

    /// <summary>The padding mask input of the masked full forward (1 attend, 0 padding).</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>Absolute positions of the tokens, i64[batch, seq].</summary>
    public const string PositionIds = "position_ids";

    /// <summary>Next-token scores, f32[batch, seq, vocab].</summary>
    public const string Logits = "logits";

    /// <summary>
    /// The greedy choice of a step's last position, i64[batch]: the argmax over the vocabulary of logits[:, -1, :] (the
    /// first maximal index, a NaN counting as the maximum), which steps compiled for a device add so that greedy decoding
    /// copies back only the token, not the logits.
    /// </summary>
    public const string NextToken = "next_token";

    /// <summary>The symbol of the sequence length.</summary>
    public const string SeqSymbol = "seq";

    /// <summary>The symbol of the batch size.</summary>
    public const string BatchSymbol = "batch";

    /// <summary>The symbol of the number of cached positions.</summary>
    public const string PastSymbol = "past";

    /// <summary>The symbol of the cache length after a decode step (cached positions plus the step's new ones).</summary>
    public const string KvSymbol = "kv";

    /// <summary>
    /// The cache rows of a layer's keys that a decode step reads and fills, [kv, batch, kv_heads, head_dim]: the cached
    /// positions followed by room for the step's new ones (a donated input, written in place by compiled plans).
    /// </summary>
    public static string CacheKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"cache_keys.{layer}");

    /// <summary>The cache rows of a layer's values that a decode step reads and fills, [kv, batch, kv_heads, head_dim].</summary>
    public static string CacheValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"cache_values.{layer}");

    /// <summary>A decode step's updated cache rows of a layer's keys, [kv, batch, kv_heads, head_dim] (the cache input's memory when written in place).</summary>
    public static string PresentKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_keys.{layer}");

    /// <summary>A decode step's updated cache rows of a layer's values, [kv, batch, kv_heads, head_dim].</summary>
    public static string PresentValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_values.{layer}");

    /// <summary>Cached keys of a layer, [past, batch, kv_heads, head_dim].</summary>
    public static string PastKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_keys.{layer}");

    /// <summary>Cached values of a layer, [past, batch, kv_heads, head_dim].</summary>
    public static string PastValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_values.{layer}");

    /// <summary>A step's new keys of a layer, [seq, batch, kv_heads, head_dim].</summary>
    public static string NewKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"new_keys.{layer}");

    /// <summary>A step's new values of a layer, [seq, batch, kv_heads, head_dim].</summary>
    public static string NewValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"new_values.{layer}");
}
