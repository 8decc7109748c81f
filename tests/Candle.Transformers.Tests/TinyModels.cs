using System.Globalization;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Tests;

/// <summary>Tiny random-weight Llama-family checkpoints written as Hugging Face directories.</summary>
internal static class TinyModels
{
    public const int Vocab = 48;
    public const int Hidden = 32;
    public const int Heads = 4;
    public const int KvHeads = 2;
    public const int HeadDim = 8;
    public const int Intermediate = 40;
    public const int Layers = 2;

    /// <summary>Split-projection Llama weights (biases included; callers drop what an architecture lacks).</summary>
    public static Dictionary<string, HostTensor> LlamaWeights(int seed, bool tied = false)
    {
        var rng = new Random(seed);
        var w = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        void Add(string name, double scale, double offset, params int[] shape)
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float)(offset + (scale * ((rng.NextDouble() * 2) - 1)));
            w[name] = HostTensor.FromArray(v, shape);
        }

        int q = Heads * HeadDim, kv = KvHeads * HeadDim;
        Add("model.embed_tokens.weight", 1.0, 0, Vocab, Hidden);
        for (int l = 0; l < Layers; l++)
        {
            string p = string.Create(CultureInfo.InvariantCulture, $"model.layers.{l}");
            Add($"{p}.self_attn.q_proj.weight", 0.3, 0, q, Hidden);
            Add($"{p}.self_attn.k_proj.weight", 0.3, 0, kv, Hidden);
            Add($"{p}.self_attn.v_proj.weight", 0.3, 0, kv, Hidden);
            Add($"{p}.self_attn.q_proj.bias", 0.2, 0, q);
            Add($"{p}.self_attn.k_proj.bias", 0.2, 0, kv);
            Add($"{p}.self_attn.v_proj.bias", 0.2, 0, kv);
            Add($"{p}.self_attn.o_proj.weight", 0.3, 0, Hidden, q);
            Add($"{p}.mlp.gate_proj.weight", 0.3, 0, Intermediate, Hidden);
            Add($"{p}.mlp.up_proj.weight", 0.3, 0, Intermediate, Hidden);
            Add($"{p}.mlp.down_proj.weight", 0.3, 0, Hidden, Intermediate);
            Add($"{p}.input_layernorm.weight", 0.2, 1, Hidden);
            Add($"{p}.post_attention_layernorm.weight", 0.2, 1, Hidden);
        }

        Add("model.norm.weight", 0.2, 1, Hidden);
        if (!tied) Add("lm_head.weight", 0.3, 0, Vocab, Hidden);
        return w;
    }

    public static Dictionary<string, HostTensor> Without(this Dictionary<string, HostTensor> w, string suffix) =>
        w.Where(kv => !kv.Key.EndsWith(suffix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>Phi-3's fused layout of the same weights: qkv_proj = [q; k; v], gate_up_proj = [gate; up].</summary>
    public static Dictionary<string, HostTensor> Fuse(Dictionary<string, HostTensor> split)
    {
        var w = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var (k, v) in split)
        {
            if (k.Contains(".q_proj.", StringComparison.Ordinal) || k.Contains(".k_proj.", StringComparison.Ordinal) ||
                k.Contains(".v_proj.", StringComparison.Ordinal) || k.Contains(".gate_proj.", StringComparison.Ordinal) ||
                k.Contains(".up_proj.", StringComparison.Ordinal))
            {
                continue;
            }

            w[k] = v;
        }

        for (int l = 0; l < Layers; l++)
        {
            string p = string.Create(CultureInfo.InvariantCulture, $"model.layers.{l}");
            w[$"{p}.self_attn.qkv_proj.weight"] = Rows(split[$"{p}.self_attn.q_proj.weight"], split[$"{p}.self_attn.k_proj.weight"], split[$"{p}.self_attn.v_proj.weight"]);
            w[$"{p}.mlp.gate_up_proj.weight"] = Rows(split[$"{p}.mlp.gate_proj.weight"], split[$"{p}.mlp.up_proj.weight"]);
        }

        return w;
    }

    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/>.</summary>
    public static string Write(string dir, string configJson, IReadOnlyDictionary<string, HostTensor> weights)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson);
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), weights.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        return dir;
    }

    /// <summary>A config of <paramref name="modelType"/> with the tiny sizes and extra JSON members.</summary>
    public static string Config(string modelType, string extra = "") =>
        $$"""
        {
          "model_type": "{{modelType}}",
          "vocab_size": {{Vocab}},
          "hidden_size": {{Hidden}},
          "intermediate_size": {{Intermediate}},
          "num_hidden_layers": {{Layers}},
          "num_attention_heads": {{Heads}},
          "num_key_value_heads": {{KvHeads}},
          "head_dim": {{HeadDim}},
          "max_position_embeddings": 64,
          "rms_norm_eps": 1e-6,
          "eos_token_id": 2,
          "bos_token_id": 1{{(extra.Length > 0 ? ",\n  " + extra : "")}}
        }
        """;

    private static HostTensor Rows(params HostTensor[] parts)
    {
        int cols = parts[0].Shape[^1];
        var data = parts.SelectMany(p => p.ToFloat32()).ToArray();
        return HostTensor.FromArray(data, data.Length / cols, cols);
    }
}
