using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Tokenizers;

/// <summary>
/// Finds and loads the tokenizer of a Hugging Face model directory with Microsoft.ML.Tokenizers:
/// SentencePiece (<c>tokenizer.model</c>), WordPiece (<c>vocab.txt</c>, BERT), byte-level BPE
/// (<c>vocab.json</c> + <c>merges.txt</c>, or the BPE model inside <c>tokenizer.json</c>).
/// </summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads the directory's tokenizer, or a GGUF file's own (<see cref="GgufTokenizer"/>), or returns null when there is none.
    /// </summary>
    /// <exception cref="InvalidDataException">A tokenizer file exists but cannot be read; the message names it.</exception>
    public static Tokenizer? TryLoad(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (File.Exists(modelDirectory) && GgufTokenizer.IsGgufFile(modelDirectory))
        {
            return GgufTokenizer.TryLoad(modelDirectory);
        }

        string sp = Path.Combine(modelDirectory, "tokenizer.model");
        string vocabTxt = Path.Combine(modelDirectory, "vocab.txt");
        string vocabJson = Path.Combine(modelDirectory, "vocab.json");
        string merges = Path.Combine(modelDirectory, "merges.txt");
        string tokJson = Path.Combine(modelDirectory, "tokenizer.json");
        try
        {
            if (File.Exists(sp))
            {
                using var s = File.OpenRead(sp);
                return SentencePieceTokenizer.Create(s, addBeginningOfSentence: true, addEndOfSentence: false);
            }

            if (File.Exists(vocabTxt))
            {
                return BertTokenizer.Create(vocabTxt);
            }

            if (File.Exists(vocabJson) && File.Exists(merges))
            {
                return BpeTokenizer.Create(new BpeOptions(LoadVocab(File.ReadAllText(vocabJson)))
                {
                    Merges = File.ReadLines(merges).Where(l => !l.StartsWith("#version", StringComparison.Ordinal) && l.Length > 0),
                    ByteLevel = true,
                });
            }

            if (File.Exists(tokJson))
            {
                return FromTokenizerJson(tokJson);
            }
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{modelDirectory}: cannot load the tokenizer: {e.Message}", e);
        }

        return null;
    }

    private static Tokenizer FromTokenizerJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var model = doc.RootElement.GetProperty("model");
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (type != "BPE")
        {
            throw new InvalidDataException($"{path}: tokenizer model type '{type}' is not supported (only BPE)");
        }

        var vocab = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
        var merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString() ?? "")
            .ToList();
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        if (doc.RootElement.TryGetProperty("added_tokens", out var added))
        {
            foreach (var a in added.EnumerateArray())
            {
                special[a.GetProperty("content").GetString() ?? ""] = a.GetProperty("id").GetInt32();
            }
        }

        return BpeTokenizer.Create(new BpeOptions(vocab) { Merges = merges, ByteLevel = true, SpecialTokens = special });
    }

    private static List<KeyValuePair<string, int>> LoadVocab(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32()))];
    }
}
