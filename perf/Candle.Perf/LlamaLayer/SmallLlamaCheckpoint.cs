using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Perf.LlamaLayer;

/// <summary>
/// A llama checkpoint of any number of layers with a small hidden size (64; random weights), for timing what follows
/// the plan's steps and not the weights' sizes: binding plans, prefill work skipped by prompt caching.
/// </summary>
internal static class SmallLlamaCheckpoint
{
    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/>.</summary>
    public static void Write(string dir, int layers)
    {
        const int Hidden = 64, Heads = 4, KvHeads = 2, Intermediate = 128, Vocab = 1000;
        File.WriteAllText(Path.Combine(dir, "config.json"), $$"""
            {"model_type": "llama", "hidden_size": {{Hidden}}, "intermediate_size": {{Intermediate}}, "num_hidden_layers": {{layers}},
             "num_attention_heads": {{Heads}}, "num_key_value_heads": {{KvHeads}}, "vocab_size": {{Vocab}}, "max_position_embeddings": 2048,
             "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}
            """);
        var rng = new Random(1);
        HostTensor Random(params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() - 0.5) * 0.1f;
            return HostTensor.FromArray(v, shape);
        }

        int kv = KvHeads * (Hidden / Heads);
        var t = new Dictionary<string, HostTensor>(StringComparer.Ordinal)
        {
            ["model.embed_tokens.weight"] = Random(Vocab, Hidden),
            ["lm_head.weight"] = Random(Vocab, Hidden),
            ["model.norm.weight"] = Random(Hidden),
        };
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            t[p + "input_layernorm.weight"] = Random(Hidden);
            t[p + "post_attention_layernorm.weight"] = Random(Hidden);
            t[p + "self_attn.q_proj.weight"] = Random(Hidden, Hidden);
            t[p + "self_attn.k_proj.weight"] = Random(kv, Hidden);
            t[p + "self_attn.v_proj.weight"] = Random(kv, Hidden);
            t[p + "self_attn.o_proj.weight"] = Random(Hidden, Hidden);
            t[p + "mlp.gate_proj.weight"] = Random(Intermediate, Hidden);
            t[p + "mlp.up_proj.weight"] = Random(Intermediate, Hidden);
            t[p + "mlp.down_proj.weight"] = Random(Hidden, Intermediate);
        }

        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), t);
    }
}
