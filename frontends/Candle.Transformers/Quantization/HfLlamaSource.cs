using System.Text.Json;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Tokenizers;

namespace Candle.Transformers.Quantization;

/// <summary>
/// A Hugging Face Llama directory as llama.cpp's converter (convert_hf_to_gguf.py) writes it: the llama.* metadata from
/// config.json, GGUF tensor names, the Q/K rows permuted for llama.cpp's rotary layout, and the SentencePiece
/// tokenizer (tokenizer.model) as tokenizer.ggml.* keys. Weights are read as float32.
/// </summary>
internal static class HfLlamaSource
{
    public static QuantizeSource Open(string dir)
    {
        string configPath = Path.Combine(dir, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{dir}: no config.json; give a GGUF file or a Hugging Face model directory", configPath);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
        var c = doc.RootElement;
        string modelType = c.TryGetProperty("model_type", out var mt) ? mt.GetString() ?? "" : "";
        if (modelType is not ("llama" or "mistral"))
        {
            throw new NotSupportedException($"{configPath}: model_type '{modelType}' cannot be converted; only llama (and mistral) directories can be quantized");
        }

        int Int(string key) => c.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n > 0
            ? n : throw new InvalidDataException($"{configPath}: '{key}' is missing or not a positive 32-bit integer");
        int hidden = Int("hidden_size");
        int heads = Int("num_attention_heads");
        int kvHeads = c.TryGetProperty("num_key_value_heads", out var kv) && kv.ValueKind == JsonValueKind.Number ? Int("num_key_value_heads") : heads;
        int headDim = c.TryGetProperty("head_dim", out var hd) && hd.ValueKind == JsonValueKind.Number ? Int("head_dim") : hidden / heads;
        float theta = c.TryGetProperty("rope_theta", out var th) && th.ValueKind == JsonValueKind.Number ? th.GetSingle()
            : c.TryGetProperty("rope_parameters", out var rp) && rp.TryGetProperty("rope_theta", out var th2) ? th2.GetSingle() : 10000f;
        var meta = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue value) => meta.Add(KeyValuePair.Create(key, value));
        Add("general.architecture", GgufValue.From("llama"));
        Add("general.name", GgufValue.From(Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar))));
        Add("llama.block_count", GgufValue.From((uint)Int("num_hidden_layers")));
        Add("llama.context_length", GgufValue.From((uint)Int("max_position_embeddings")));
        Add("llama.embedding_length", GgufValue.From((uint)hidden));
        Add("llama.feed_forward_length", GgufValue.From((uint)Int("intermediate_size")));
        Add("llama.attention.head_count", GgufValue.From((uint)heads));
        Add("llama.attention.head_count_kv", GgufValue.From((uint)kvHeads));
        Add("llama.rope.freq_base", GgufValue.From(theta));
        Add("llama.attention.layer_norm_rms_epsilon", GgufValue.From(c.TryGetProperty("rms_norm_eps", out var eps) ? eps.GetSingle() : 1e-6f));
        Add("llama.attention.key_length", GgufValue.From((uint)headDim));
        Add("llama.attention.value_length", GgufValue.From((uint)headDim));
        Add("llama.vocab_size", GgufValue.From((uint)Int("vocab_size")));
        Add("llama.rope.dimension_count", GgufValue.From((uint)headDim));
        AddTokenizer(dir, c, Int("vocab_size"), meta);

        var st = SafeTensorsCheckpoint.Open(dir);
        try
        {
            var tensors = new List<QuantizeTensor>();
            foreach (string hf in st.Names)
            {
                if (!LlamaGgufNames.TryToGguf(hf, out string? name))
                {
                    if (hf.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
                    throw new InvalidDataException($"{dir}: tensor '{hf}' has no llama GGUF name");
                }

                var info = st.GetInfo(hf);
                int[] shape = [.. info.Shape];
                long[] dims = [.. shape.Reverse().Select(d => (long)d)];
                int permuteHeads = hf.EndsWith("q_proj.weight", StringComparison.Ordinal) ? heads : hf.EndsWith("k_proj.weight", StringComparison.Ordinal) ? kvHeads : 0;
                float[] Values()
                {
                    float[] v = st.Get(hf).ToFloat32();
                    return permuteHeads > 0 ? LlamaRopePermutation.Permute(v, shape[0], permuteHeads) : v;
                }

                tensors.Add(new QuantizeTensor(name, dims, GgmlType.F32, () => System.Runtime.InteropServices.MemoryMarshal.AsBytes(Values().AsSpan()).ToArray(), Values));
            }

            return new QuantizeSource(meta, tensors, st);
        }
        catch
        {
            st.Dispose();
            throw;
        }
    }

    private static void AddTokenizer(string dir, JsonElement config, int vocabSize, List<KeyValuePair<string, GgufValue>> meta)
    {
        string path = Path.Combine(dir, "tokenizer.model");
        if (!File.Exists(path)) return;
        var pieces = SentencePieceModel.ReadPieces(File.ReadAllBytes(path), path);
        // As the converter does: a vocabulary shorter than the model's is padded with unused [PAD] tokens.
        for (int i = pieces.Count; i < vocabSize; i++) pieces.Add(new SentencePiece($"[PAD{i}]", -1000f, 5));
        meta.Add(KeyValuePair.Create("tokenizer.ggml.model", GgufValue.From("llama")));
        meta.Add(KeyValuePair.Create("tokenizer.ggml.pre", GgufValue.From("default")));
        meta.Add(KeyValuePair.Create("tokenizer.ggml.tokens", GgufValue.From(GgufArray.Of(pieces.Select(p => p.Piece).ToArray()))));
        meta.Add(KeyValuePair.Create("tokenizer.ggml.scores", GgufValue.From(GgufArray.Of(pieces.Select(p => p.Score).ToArray()))));
        meta.Add(KeyValuePair.Create("tokenizer.ggml.token_type", GgufValue.From(GgufArray.Of(pieces.Select(p => p.Type).ToArray()))));
        foreach (var (json, key) in new[] { ("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id"), ("pad_token_id", "tokenizer.ggml.padding_token_id") })
        {
            if (config.TryGetProperty(json, out var id) && id.ValueKind == JsonValueKind.Number && id.TryGetUInt32(out uint v))
            {
                meta.Add(KeyValuePair.Create(key, GgufValue.From(v)));
            }
        }
    }
}
