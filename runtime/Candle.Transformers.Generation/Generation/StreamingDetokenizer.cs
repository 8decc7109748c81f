using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Generation;

/// <summary>
/// Turns a stream of token ids into text pieces: each call returns the text the new token adds to the decoding of
/// everything so far, holding text back while it ends in an incomplete multi-byte character.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly Tokenizer? _tokenizer;
    private readonly List<int> _ids = [];
    private string _emitted = "";

    /// <summary>Creates the detokenizer; with no tokenizer every piece is empty.</summary>
    public StreamingDetokenizer(Tokenizer? tokenizer) => _tokenizer = tokenizer;

    /// <summary>All text emitted so far plus any held-back tail.</summary>
    public string Text => _tokenizer is null ? "" : _tokenizer.Decode(_ids) ?? "";

    /// <summary>Adds a token and returns the text it completes.</summary>
    public string Add(int id)
    {
        _ids.Add(id);
        if (_tokenizer is null) return "";
        string full = _tokenizer.Decode(_ids) ?? "";
        if (full.Length > 0 && full[^1] == '\uFFFD') return "";
        if (!full.StartsWith(_emitted, StringComparison.Ordinal))
        {
            // The decoding of the prefix changed (a tokenizer that merges across tokens): emit nothing new until it settles.
            return "";
        }

        string piece = full[_emitted.Length..];
        _emitted = full;
        return piece;
    }
}
