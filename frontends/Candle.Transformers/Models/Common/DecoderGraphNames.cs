using System.Globalization;

namespace Candle.Transformers.Models.Common;

/// <summary>The input and output names of the graphs that causal language models trace.</summary>
public static class DecoderGraphNames
{
    /// <summary>Token ids, i64[batch, seq].</summary>
    public const string InputIds = "input_ids";

    /// <summary>Absolute positions of the tokens, i64[batch, seq].</summary>
    public const string PositionIds = "position_ids";

    /// <summary>Next-token scores, f32[batch, seq, vocab].</summary>
    public const string Logits = "logits";

    /// <summary>The symbol of the sequence length.</summary>
    public const string SeqSymbol = "seq";

    /// <summary>The symbol of the batch size.</summary>
    public const string BatchSymbol = "batch";

    /// <summary>The symbol of the number of cached positions.</summary>
    public const string PastSymbol = "past";

    /// <summary>Cached keys of a layer, [past, batch, kv_heads, head_dim].</summary>
    public static string PastKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_keys.{layer}");

    /// <summary>Cached values of a layer, [past, batch, kv_heads, head_dim].</summary>
    public static string PastValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_values.{layer}");

    /// <summary>A step's new keys of a layer, [seq, batch, kv_heads, head_dim].</summary>
    public static string NewKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"new_keys.{layer}");

    /// <summary>A step's new values of a layer, [seq, batch, kv_heads, head_dim].</summary>
    public static string NewValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"new_values.{layer}");
}
