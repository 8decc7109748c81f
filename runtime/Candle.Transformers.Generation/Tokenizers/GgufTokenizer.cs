using Candle.Runtime.Weights.Gguf;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Tokenizers;

/// <summary>
/// The tokenizer a llama.cpp GGUF file stores (<c>tokenizer.ggml.*</c>), built with Microsoft.ML.Tokenizers:
/// <c>llama</c> (SentencePiece BPE with byte fallback: tokens, scores, token types) and <c>gpt2</c> (byte-level BPE:
/// tokens, merges, llama.cpp's split patterns for the pre-tokenizer named by <c>tokenizer.ggml.pre</c>). The bos/eos/pad ids and
/// <c>add_bos_token</c>/<c>add_eos_token</c> are honoured; control and user-defined tokens are special tokens. The
/// file's <c>tokenizer.chat_template</c> is read by the chat API (Candle.Transformers' <c>ModelChatTemplate</c>).
/// </summary>
public static class GgufTokenizer
{
    // llama.cpp's split patterns (llama-vocab.cpp) for the pre-tokenizer types named by tokenizer.ggml.pre.
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Llama3Pattern = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2Pattern = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly string[] DefaultPatterns = [@"[\p{P}\$\+<=>\^~\|]+", Gpt2Pattern, @"\p{N}+", "[0-9][0-9][0-9]"];

    /// <summary>True when <paramref name="path"/> is a file named <c>*.gguf</c> or starting with the GGUF magic.</summary>
    internal static bool IsGgufFile(string path)
    {
        if (!File.Exists(path)) return false;
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return true;
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return f.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary>The tokenizer of a GGUF file, or null when the file stores none (no <c>tokenizer.ggml.model</c>, or "none").</summary>
    /// <exception cref="GgufFormatException">A tokenizer key is missing, of the wrong type or inconsistent; the message names it.</exception>
    /// <exception cref="NotSupportedException">The tokenizer model is not llama or gpt2; the message names it.</exception>
    public static Tokenizer? TryLoad(string path)
    {
        using var file = GgufFile.Open(path);
        return TryLoad(file);
    }

    /// <summary>The tokenizer of an open GGUF file, or null when it stores none.</summary>
    /// <exception cref="GgufFormatException">A tokenizer key is missing, of the wrong type or inconsistent; the message names it.</exception>
    /// <exception cref="NotSupportedException">The tokenizer model is not llama or gpt2; the message names it.</exception>
    public static Tokenizer? TryLoad(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var m = file.Metadata;
        if (!m.TryGetValue("tokenizer.ggml.model", out var modelValue)) return null;
        string model = modelValue.Value as string ?? throw Bad(file, "tokenizer.ggml.model", $"is a {modelValue.Type}, not a string");
        if (model is "none" or "") return null;
        var tokens = Strings(file, "tokenizer.ggml.tokens");
        if (tokens.Count == 0) throw Bad(file, "tokenizer.ggml.tokens", "is empty");
        int[] types = OptionalInts(file, "tokenizer.ggml.token_type", tokens.Count) ?? [.. Enumerable.Repeat(1, tokens.Count)];
        int bos = Id(file, "tokenizer.ggml.bos_token_id", tokens.Count) ?? -1;
        int eos = Id(file, "tokenizer.ggml.eos_token_id", tokens.Count) ?? -1;
        int pad = Id(file, "tokenizer.ggml.padding_token_id", tokens.Count) ?? -1;
        int unk = Id(file, "tokenizer.ggml.unknown_token_id", tokens.Count) ?? -1;
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            if (types[i] is 3 or 4) special.TryAdd(tokens[i], i);
        }

        switch (model)
        {
            case "llama":
            {
                float[] scores = OptionalFloats(file, "tokenizer.ggml.scores", tokens.Count) ?? new float[tokens.Count];
                var pieces = new List<SentencePiece>(tokens.Count);
                for (int i = 0; i < tokens.Count; i++) pieces.Add(new SentencePiece(tokens[i], scores[i], types[i] is >= 1 and <= 6 ? types[i] : 1));
                if (unk < 0) unk = types.AsSpan().IndexOf(2);
                byte[] proto = SentencePieceModel.WriteBpeModel(pieces, Math.Max(unk, 0), bos, eos, pad, Bool(file, "tokenizer.ggml.add_space_prefix") ?? true);
                using var stream = new MemoryStream(proto);
                return SentencePieceTokenizer.Create(stream, Bool(file, "tokenizer.ggml.add_bos_token") ?? true, Bool(file, "tokenizer.ggml.add_eos_token") ?? false, special);
            }

            case "gpt2":
            {
                var merges = Strings(file, "tokenizer.ggml.merges");
                foreach (string merge in merges)
                {
                    if (merge.IndexOf(' ', StringComparison.Ordinal) <= 0) throw Bad(file, "tokenizer.ggml.merges", $"entry '{merge}' is not two tokens separated by a space");
                }

                string pre = m.TryGetValue("tokenizer.ggml.pre", out var p) ? p.Value as string ?? throw Bad(file, "tokenizer.ggml.pre", $"is a {p.Type}, not a string") : "default";
                string[] patterns = pre switch
                {
                    "default" => DefaultPatterns,
                    "gpt-2" or "gpt2" or "mpt" or "olmo" or "jais" => [Gpt2Pattern],
                    "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "pixtral" or "dbrx" or "smaug-bpe" => [Llama3Pattern],
                    "qwen2" or "deepseek-r1-qwen" or "stablelm2" or "hunyuan" => [Qwen2Pattern],
                    _ => throw new NotSupportedException($"{file.Path}: tokenizer.ggml.pre '{pre}' is not supported (default, gpt-2, llama-bpe, qwen2 and their aliases are)"),
                };
                var vocab = new List<KeyValuePair<string, int>>(tokens.Count);
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < tokens.Count; i++)
                {
                    if (seen.Add(tokens[i])) vocab.Add(new(tokens[i], i));
                }

                var options = new BpeOptions(vocab)
                {
                    Merges = merges,
                    ByteLevel = true,
                    SpecialTokens = special,
                    PreTokenizer = new RegexCascadePreTokenizer(patterns, special),
                };
                // As llama.cpp: the llama3 pre-tokenizers add BOS unless the file says otherwise, the others do not.
                bool llama3 = patterns[0] == Llama3Pattern;
                if ((Bool(file, "tokenizer.ggml.add_bos_token") ?? llama3) && bos >= 0) options.BeginningOfSentenceToken = tokens[bos];
                if ((Bool(file, "tokenizer.ggml.add_eos_token") ?? false) && eos >= 0) options.EndOfSentenceToken = tokens[eos];
                return BpeTokenizer.Create(options);
            }

            default:
                throw new NotSupportedException($"{file.Path}: tokenizer.ggml.model '{model}' is not supported (llama and gpt2 are)");
        }
    }

    private static GgufFormatException Bad(GgufFile file, string key, string problem) => new(file.Path, null, key, problem);

    private static IReadOnlyList<string> Strings(GgufFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) throw Bad(file, key, "is missing");
        if (v.Value is not GgufArray a || a.ElementType != GgufValueType.String) throw Bad(file, key, $"is a {v.Type}, not an array of strings");
        return a.AsStrings();
    }

    private static int[]? OptionalInts(GgufFile file, string key, int count)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return null;
        if (v.Value is not GgufArray a || a.ElementType != GgufValueType.Int32) throw Bad(file, key, $"is a {v.Type}, not an array of int32");
        if (a.Count != count) throw Bad(file, key, $"has {a.Count} entries for {count} tokens");
        return a.AsSpan<int>().ToArray();
    }

    private static float[]? OptionalFloats(GgufFile file, string key, int count)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return null;
        if (v.Value is not GgufArray a || a.ElementType != GgufValueType.Float32) throw Bad(file, key, $"is a {v.Type}, not an array of float32");
        if (a.Count != count) throw Bad(file, key, $"has {a.Count} entries for {count} tokens");
        var scores = a.AsSpan<float>().ToArray();
        foreach (float s in scores)
        {
            if (!float.IsFinite(s)) throw Bad(file, key, "holds a non-finite score");
        }

        return scores;
    }

    private static int? Id(GgufFile file, string key, int count)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return null;
        if (!v.IsInteger) throw Bad(file, key, $"is a {v.Type}, not an integer");
        long id = v.ToInt64();
        if (id < 0 || id >= count) throw Bad(file, key, $"{id} is outside the {count} tokens");
        return (int)id;
    }

    private static bool? Bool(GgufFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return null;
        return v.Value is bool b ? b : throw Bad(file, key, $"is a {v.Type}, not a bool");
    }
}
