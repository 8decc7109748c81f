using Candle.Runtime.Weights.Gguf;
using Candle.Transformers.Tests.Gguf;
using Candle.Transformers.Tests.LlamaCpp;
using Candle.Transformers.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Candle.Transformers.Tests.Tokenizers;

/// <summary>
/// The tokenizer stored in a GGUF file: the llama (SentencePiece) fixture against llama.cpp's own tokenizer (through
/// LLamaSharp) on strings with spaces, digits, unicode and a leading space; a hand-built gpt2 (byte-level BPE) vocabulary
/// against ids worked out by hand; malformed keys named in the exception.
/// </summary>
public sealed class GgufTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-gguf-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Texts =>
    [
        "Hello world",
        " leading space",
        "two  spaces and a trailing one ",
        "digits 12345 and 3.14159",
        "unicode: héllo wörld ✓ 日本語 🙂",
        "line one\nline two\ttab",
        "a",
    ];

    [Theory]
    [MemberData(nameof(Texts))]
    public void TheLlamaTokenizerMatchesLlamaCpp(string text)
    {
        string path = GgufFixtures.File("q8_0");
        var ours = GgufTokenizer.TryLoad(path)!;
        using var llama = new LlamaCppModel(path);
        int[] expected = llama.Tokenize(text, addBos: true);
        Assert.Equal(1, expected[0]);
        Assert.Equal(expected, ours.EncodeToIds(text).ToArray());
        Assert.Equal(text, ours.Decode(expected));
    }

    [Fact]
    public void GenerationFromAGgufFileUsesItsTokenizer()
    {
        // TokenizerLoader (what TextGenerator.Load and candle generate use) finds the file's own tokenizer.
        var tokenizer = TokenizerLoader.TryLoad(GgufFixtures.File("q4_0"));
        Assert.IsType<SentencePieceTokenizer>(tokenizer);
        Assert.Equal(1, tokenizer.EncodeToIds("x")[0]);
    }

    [Fact]
    public void AByteLevelBpeVocabularyMergesAsWorkedOutByHand()
    {
        string[] tokens = ["<|bos|>", "h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "1", "2"];
        string[] merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"];
        int[] types = [3, .. Enumerable.Repeat(1, tokens.Length - 1)];
        string path = Write("bpe.gguf", w => w
            .Add("tokenizer.ggml.model", "gpt2")
            .Add("tokenizer.ggml.pre", "gpt2")
            .Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of(tokens)))
            .Add("tokenizer.ggml.token_type", GgufValue.From(GgufArray.Of(types)))
            .Add("tokenizer.ggml.merges", GgufValue.From(GgufArray.Of(merges)))
            .Add("tokenizer.ggml.bos_token_id", 0u)
            .Add("tokenizer.ggml.add_bos_token", true));
        var t = GgufTokenizer.TryLoad(path)!;
        // "hello world" splits (gpt2 pattern) into "hello" and " world" = "Ġworld"; each merges down to one token.
        Assert.Equal([0, 12, 17], t.EncodeToIds("hello world").ToArray());
        // "hold" splits into h, o, l, d: only "l d" merges.
        Assert.Equal([0, 1, 4, 16], t.EncodeToIds("hold").ToArray());
        // Digits split from letters: "he12" = he, 1, 2.
        Assert.Equal([0, 9, 18, 19], t.EncodeToIds("he12").ToArray());
        Assert.Equal("hello world", t.Decode([12, 17]));
    }

    [Theory]
    [InlineData("default")]
    [InlineData("gpt-2")]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    public void AByteLevelBpeVocabularyMatchesLlamaCpp(string pre)
    {
        // GPT-2's byte-to-character map for the 256 byte tokens, then merges over common English pairs.
        var byteChars = new List<int>();
        for (int b = '!'; b <= '~'; b++) byteChars.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) byteChars.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) byteChars.Add(b);
        var map = new char[256];
        int extra = 0;
        for (int b = 0; b < 256; b++) map[b] = byteChars.Contains(b) ? (char)b : (char)(256 + extra++);
        var tokens = new List<string> { "<|endoftext|>" };
        tokens.AddRange(map.Select(c => c.ToString()));
        string[] merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ w", "o r", "l l", "he ll", "hell o", "Ġw or", "l d", "Ġwor ld", "1 2", "12 3", "Ġ 1", "i s", "Ġ is", "' s", "Ġa n", "Ġan d", "Ã ©"];
        foreach (string merge in merges) tokens.Add(merge.Replace(" ", "", StringComparison.Ordinal));
        int[] types = [3, .. Enumerable.Repeat(1, tokens.Count - 1)];
        string path = Write($"bpe-{pre}.gguf", w =>
        {
            using var fixture = GgufFile.Open(GgufFixtures.File("q4_0"));
            foreach (var (key, value) in fixture.Metadata.Where(kv => !kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal) && kv.Key != "llama.vocab_size"))
            {
                w.Add(key, value);
            }

            w.Add("tokenizer.ggml.model", "gpt2")
                .Add("tokenizer.ggml.pre", pre)
                .Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of(tokens.ToArray())))
                .Add("tokenizer.ggml.token_type", GgufValue.From(GgufArray.Of(types)))
                .Add("tokenizer.ggml.merges", GgufValue.From(GgufArray.Of(merges)))
                .Add("tokenizer.ggml.bos_token_id", 0u)
                .Add("tokenizer.ggml.eos_token_id", 0u);
        });
        var ours = GgufTokenizer.TryLoad(path)!;
        foreach (string text in new[] { "hello world", " the cat's hat is 123456 and 12", "café, naïve — 日本!", "a  b\n\nc\t 99", "Hello, World!!! it's" })
        {
            bool addBos = pre == "llama-bpe";
            int[] expected = LlamaCppModel.TokenizeVocabOnly(path, text, addBos);
            Assert.Equal(expected, ours.EncodeToIds(text).ToArray());
        }
    }

    [Theory]
    [InlineData("scores", "tokenizer.ggml.scores")]
    [InlineData("types", "tokenizer.ggml.token_type")]
    [InlineData("bos", "tokenizer.ggml.bos_token_id")]
    [InlineData("tokens", "tokenizer.ggml.tokens")]
    [InlineData("merges", "tokenizer.ggml.merges")]
    [InlineData("addbos", "tokenizer.ggml.add_bos_token")]
    public void MalformedTokenizerKeysAreNamed(string fault, string key)
    {
        string[] tokens = ["<unk>", "<s>", "</s>", "▁a"];
        string path = Write($"{fault}.gguf", w =>
        {
            w.Add("tokenizer.ggml.model", fault == "merges" ? "gpt2" : "llama");
            if (fault == "tokens") w.Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of(1, 2, 3)));
            else w.Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of(tokens)));
            w.Add("tokenizer.ggml.scores", GgufValue.From(GgufArray.Of(fault == "scores" ? [0f, 0f] : new[] { 0f, 0f, 0f, -1f })));
            if (fault == "types") w.Add("tokenizer.ggml.token_type", GgufValue.From(GgufArray.Of("x", "y", "z", "w")));
            w.Add("tokenizer.ggml.bos_token_id", fault == "bos" ? 99u : 1u);
            if (fault == "addbos") w.Add("tokenizer.ggml.add_bos_token", 1u);
        });
        var e = Assert.Throws<GgufFormatException>(() => GgufTokenizer.TryLoad(path));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnsupportedModelIsNamedAndAMissingTokenizerIsNull()
    {
        string t5 = Write("t5.gguf", w => w.Add("tokenizer.ggml.model", "t5").Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of("a"))));
        var e = Assert.Throws<NotSupportedException>(() => GgufTokenizer.TryLoad(t5));
        Assert.Contains("'t5'", e.Message, StringComparison.Ordinal);
        Assert.Null(GgufTokenizer.TryLoad(Write("none.gguf", w => w.Add("general.architecture", "llama"))));
    }

    private string Write(string name, Action<GgufWriter> build)
    {
        var w = new GgufWriter();
        build(w);
        string path = Path.Combine(_dir, name);
        w.Write(path);
        return path;
    }
}
