using System.Globalization;
using Candle.Perf.LlamaCpp;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Perf.LlamaLayer;

/// <summary>
/// Writes a Hugging Face Llama directory (config.json and model.safetensors, float32, bfloat16 or float16, random
/// normal weights with standard deviation 0.02, norms at one) in TinyLlama-1.1B's shape: hidden 2048, intermediate
/// 5632, 32 heads, 4 key/value heads, head dim 64, RoPE theta 10000; the layer count and vocabulary are chosen by the
/// caller. <see cref="WriteGguf"/> writes the same shape as a llama.cpp GGUF file of one ggml type.
/// </summary>
public static class TinyLlamaCheckpoint
{
    public const int Hidden = 2048;
    public const int Intermediate = 5632;
    public const int Heads = 32;
    public const int KvHeads = 4;
    public const int HeadDim = 64;

    /// <summary>Writes the checkpoint into <paramref name="directory"/> (created if missing) and returns it.</summary>
    public static string Write(string directory, int layers, int vocab = 32000, int seed = 1, DType dtype = DType.F32)
    {
        if (dtype is not (DType.F32 or DType.BF16 or DType.F16)) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "f32, bf16 or f16");
        Directory.CreateDirectory(directory);
        var inv = CultureInfo.InvariantCulture;
        string config = string.Create(inv, $$"""
            {
              "architectures": ["LlamaForCausalLM"],
              "model_type": "llama",
              "hidden_size": {{Hidden}},
              "intermediate_size": {{Intermediate}},
              "num_hidden_layers": {{layers}},
              "num_attention_heads": {{Heads}},
              "num_key_value_heads": {{KvHeads}},
              "head_dim": {{HeadDim}},
              "hidden_act": "silu",
              "max_position_embeddings": 2048,
              "rms_norm_eps": 1e-05,
              "rope_theta": 10000.0,
              "tie_word_embeddings": false,
              "attention_bias": false,
              "mlp_bias": false,
              "bos_token_id": 1,
              "eos_token_id": 2,
              "vocab_size": {{vocab}},
              "torch_dtype": "{{TorchDtype(dtype)}}"
            }
            """);
        File.WriteAllText(Path.Combine(directory, "config.json"), config);

        var rng = new Random(seed);
        var tensors = new List<KeyValuePair<string, HostTensor>>
        {
            new("model.embed_tokens.weight", Normal(rng, vocab, Hidden)),
        };
        for (int l = 0; l < layers; l++)
        {
            string p = string.Create(inv, $"model.layers.{l}.");
            tensors.Add(new(p + "self_attn.q_proj.weight", Normal(rng, Heads * HeadDim, Hidden)));
            tensors.Add(new(p + "self_attn.k_proj.weight", Normal(rng, KvHeads * HeadDim, Hidden)));
            tensors.Add(new(p + "self_attn.v_proj.weight", Normal(rng, KvHeads * HeadDim, Hidden)));
            tensors.Add(new(p + "self_attn.o_proj.weight", Normal(rng, Hidden, Heads * HeadDim)));
            tensors.Add(new(p + "mlp.gate_proj.weight", Normal(rng, Intermediate, Hidden)));
            tensors.Add(new(p + "mlp.up_proj.weight", Normal(rng, Intermediate, Hidden)));
            tensors.Add(new(p + "mlp.down_proj.weight", Normal(rng, Hidden, Intermediate)));
            tensors.Add(new(p + "input_layernorm.weight", Ones(Hidden)));
            tensors.Add(new(p + "post_attention_layernorm.weight", Ones(Hidden)));
        }

        tensors.Add(new("model.norm.weight", Ones(Hidden)));
        tensors.Add(new("lm_head.weight", Normal(rng, vocab, Hidden)));
        if (dtype != DType.F32)
        {
            for (int i = 0; i < tensors.Count; i++) tensors[i] = new(tensors[i].Key, Narrow(tensors[i].Value, dtype));
        }

        SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
        return directory;
    }

    /// <summary>
    /// Writes the same shape as a GGUF file at <paramref name="path"/> with matrices of <paramref name="type"/>
    /// (norms stay f32) and the vocabulary of <paramref name="vocabSource"/> padded to <paramref name="vocab"/> pieces.
    /// </summary>
    public static string WriteGguf(string path, int layers, int vocab, GgmlType type, string vocabSource) =>
        RandomLlamaGguf.Write(path, new RandomLlamaGguf.Shape(layers, Hidden, Intermediate, Heads, KvHeads, vocab, Context: 2048), type, vocabSource);

    private static string TorchDtype(DType dtype) => dtype switch
    {
        DType.BF16 => "bfloat16",
        DType.F16 => "float16",
        _ => "float32",
    };

    // Rounds to nearest even (bf16) or converts (f16), without the per-element double path of HostTensor.Cast.
    private static HostTensor Narrow(HostTensor t, DType dtype)
    {
        var r = HostTensor.Zeros(dtype, t.ShapeArray());
        var src = t.AsSpan<float>();
        if (dtype == DType.F16)
        {
            var dst = r.AsSpan<Half>();
            for (int i = 0; i < src.Length; i++) dst[i] = (Half)src[i];
        }
        else
        {
            var bits = t.AsSpan<uint>();
            var dst = r.AsSpan<ushort>();
            for (int i = 0; i < src.Length; i++)
            {
                uint b = bits[i];
                dst[i] = (ushort)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
            }
        }

        return r;
    }

    private static HostTensor Normal(Random rng, int rows, int cols)
    {
        var t = HostTensor.Zeros(DType.F32, rows, cols);
        var s = t.AsSpan<float>();
        for (int i = 0; i < s.Length; i += 2)
        {
            // Box-Muller, two values per draw.
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = 0.02 * Math.Sqrt(-2.0 * Math.Log(u1));
            s[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < s.Length) s[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }

        return t;
    }

    private static HostTensor Ones(int n)
    {
        var t = HostTensor.Zeros(DType.F32, n);
        t.AsSpan<float>().Fill(1f);
        return t;
    }
}
