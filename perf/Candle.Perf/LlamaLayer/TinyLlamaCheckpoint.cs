using System.Globalization;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Perf.LlamaLayer;

/// <summary>
/// Writes a Hugging Face Llama directory (config.json and model.safetensors, float32, random normal weights with
/// standard deviation 0.02, norms at one) in TinyLlama-1.1B's shape: hidden 2048, intermediate 5632, 32 heads,
/// 4 key/value heads, head dim 64, RoPE theta 10000; the layer count and vocabulary are chosen by the caller.
/// </summary>
public static class TinyLlamaCheckpoint
{
    public const int Hidden = 2048;
    public const int Intermediate = 5632;
    public const int Heads = 32;
    public const int KvHeads = 4;
    public const int HeadDim = 64;

    /// <summary>Writes the checkpoint into <paramref name="directory"/> (created if missing) and returns it.</summary>
    public static string Write(string directory, int layers, int vocab = 32000, int seed = 1)
    {
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
              "torch_dtype": "float32"
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
        SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
        return directory;
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
