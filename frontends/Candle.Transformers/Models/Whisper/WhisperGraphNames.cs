using System.Globalization;

namespace Candle.Transformers.Models.Whisper;

/// <summary>
/// The input and output names of Whisper's traced graphs. The self-attention cache uses the layout and names of
/// <see cref="Common.DecoderGraphNames"/> (<c>past_keys.{i}</c> [past, batch, heads, head_dim], <c>new_keys.{i}</c>
/// [seq, batch, heads, head_dim]) so that <see cref="Common.KvCache"/> holds it.
/// </summary>
public static class WhisperGraphNames
{
    /// <summary>Log-mel features, f32[batch, num_mel_bins, frames].</summary>
    public const string InputFeatures = "input_features";

    /// <summary>Decoder token ids, i64[batch, seq].</summary>
    public const string DecoderInputIds = "decoder_input_ids";

    /// <summary>Next-token scores, f32[batch, seq, vocab].</summary>
    public const string Logits = "logits";

    /// <summary>The encoder output, f32[batch, enc_seq, d_model].</summary>
    public const string EncoderLastHiddenState = "encoder_last_hidden_state";

    /// <summary>The symbol of the batch size.</summary>
    public const string BatchSymbol = "batch";

    /// <summary>The symbol of the decoder sequence length.</summary>
    public const string SeqSymbol = "seq";

    /// <summary>Cross-attention keys of a decoder layer, [batch, heads, enc_seq, head_dim].</summary>
    public static string CrossKeys(int layer) => string.Create(CultureInfo.InvariantCulture, $"cross_keys.{layer}");

    /// <summary>Cross-attention values of a decoder layer, [batch, heads, enc_seq, head_dim].</summary>
    public static string CrossValues(int layer) => string.Create(CultureInfo.InvariantCulture, $"cross_values.{layer}");
}
