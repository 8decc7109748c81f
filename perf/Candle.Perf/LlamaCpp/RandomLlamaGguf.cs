using System.Globalization;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Perf.LlamaCpp;

/// <summary>
/// Writes a Llama with random weights as a GGUF file that llama.cpp loads: the llama.* keys, a SentencePiece-style
/// vocabulary (the tiny fixture's 512 pieces, with byte tokens, padded with made-up pieces) and weight matrices of
/// one ggml type (norms stay f32).
/// </summary>
public static class RandomLlamaGguf
{
    public sealed record Shape(int Layers, int Hidden, int Intermediate, int Heads, int KvHeads, int Vocab, int Context)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Layers} layers, hidden {Hidden}, MLP {Intermediate}, {Heads}/{KvHeads} heads, vocab {Vocab}");
    }

    /// <summary>Writes the model to <paramref name="path"/> unless a file is already there; returns the path.</summary>
    public static string Write(string path, Shape s, GgmlType type, string vocabSource, int seed = 7)
    {
        if (File.Exists(path)) return path;
        var rng = new Random(seed);
        var (tokens, scores, types) = Vocabulary(vocabSource, s.Vocab);
        int headDim = s.Hidden / s.Heads;
        var w = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("general.name", "random-llama")
            .Add("llama.block_count", (uint)s.Layers)
            .Add("llama.context_length", (uint)s.Context)
            .Add("llama.embedding_length", (uint)s.Hidden)
            .Add("llama.feed_forward_length", (uint)s.Intermediate)
            .Add("llama.attention.head_count", (uint)s.Heads)
            .Add("llama.attention.head_count_kv", (uint)s.KvHeads)
            .Add("llama.attention.layer_norm_rms_epsilon", 1e-5f)
            .Add("llama.rope.freq_base", 10000f)
            .Add("llama.rope.dimension_count", (uint)headDim)
            .Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of(tokens)))
            .Add("tokenizer.ggml.scores", GgufValue.From(GgufArray.Of(scores)))
            .Add("tokenizer.ggml.token_type", GgufValue.From(GgufArray.Of(types)))
            .Add("tokenizer.ggml.bos_token_id", 1u)
            .Add("tokenizer.ggml.eos_token_id", 2u);

        void Matrix(string name, int rows, int cols, float scale) => w.AddTensor(name, Random(rng, scale, rows, cols), type);
        void Norm(string name) => w.AddTensor(name, HostTensor.FromArray(Enumerable.Repeat(1f, s.Hidden).ToArray(), s.Hidden), GgmlType.F32);

        Matrix("token_embd.weight", s.Vocab, s.Hidden, 1f);
        Norm("output_norm.weight");
        Matrix("output.weight", s.Vocab, s.Hidden, 1f / MathF.Sqrt(s.Hidden));
        for (int l = 0; l < s.Layers; l++)
        {
            string b = string.Create(CultureInfo.InvariantCulture, $"blk.{l}.");
            Norm(b + "attn_norm.weight");
            Matrix(b + "attn_q.weight", s.Heads * headDim, s.Hidden, 1f / MathF.Sqrt(s.Hidden));
            Matrix(b + "attn_k.weight", s.KvHeads * headDim, s.Hidden, 1f / MathF.Sqrt(s.Hidden));
            Matrix(b + "attn_v.weight", s.KvHeads * headDim, s.Hidden, 1f / MathF.Sqrt(s.Hidden));
            Matrix(b + "attn_output.weight", s.Hidden, s.Heads * headDim, 1f / MathF.Sqrt(s.Hidden));
            Norm(b + "ffn_norm.weight");
            Matrix(b + "ffn_gate.weight", s.Intermediate, s.Hidden, 1f / MathF.Sqrt(s.Hidden));
            Matrix(b + "ffn_up.weight", s.Intermediate, s.Hidden, 1f / MathF.Sqrt(s.Hidden));
            Matrix(b + "ffn_down.weight", s.Hidden, s.Intermediate, 1f / MathF.Sqrt(s.Intermediate));
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".partial";
        w.Write(temp);
        File.Move(temp, path, overwrite: true);
        return path;
    }

    private static HostTensor Random(Random rng, float scale, int rows, int cols)
    {
        var v = new float[rows * cols];
        for (int i = 0; i < v.Length; i++) v[i] = ((rng.NextSingle() * 2) - 1) * scale * 1.7f;
        return HostTensor.FromArray(v, rows, cols);
    }

    private static (string[] Tokens, float[] Scores, int[] Types) Vocabulary(string source, int vocab)
    {
        using var f = GgufFile.Open(source);
        var baseTokens = f.Metadata.GetStringArray("tokenizer.ggml.tokens");
        var baseScores = f.Metadata.GetFloat32Array("tokenizer.ggml.scores");
        var baseTypes = f.Metadata.GetInt32Array("tokenizer.ggml.token_type");
        if (vocab < baseTokens.Count) throw new ArgumentOutOfRangeException(nameof(vocab), vocab, $"must be at least the {baseTokens.Count} pieces of {source}");
        var tokens = new string[vocab];
        var scores = new float[vocab];
        var types = new int[vocab];
        for (int i = 0; i < vocab; i++)
        {
            bool known = i < baseTokens.Count;
            tokens[i] = known ? baseTokens[i] : string.Create(CultureInfo.InvariantCulture, $"\u2581r{i}");
            scores[i] = known ? baseScores[i] : -1000f - i;
            types[i] = known ? baseTypes[i] : 1;
        }

        return (tokens, scores, types);
    }
}
