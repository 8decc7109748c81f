using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Transformers.Tests.Gguf;

/// <summary>
/// Writes a Hugging Face Llama checkpoint as a llama.cpp-style GGUF file: GGUF tensor names, Q/K rows permuted as
/// convert_hf_to_gguf.py permutes them, and the llama.* metadata keys.
/// </summary>
internal static class HfToGguf
{
    public sealed record Settings(int Layers, int Hidden, int Intermediate, int Heads, int KvHeads, int Context, float Eps, float Theta, ulong Eos = 2)
    {
        public static Settings TinyLlama { get; } = new(2, 256, 768, 8, 4, 256, 1e-5f, 10000f);
    }

    public static GgufWriter Writer(ISafeTensorsSource source, Settings s, GgmlType type = GgmlType.F32, bool dropLmHead = false)
    {
        var w = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("llama.block_count", (uint)s.Layers)
            .Add("llama.context_length", (uint)s.Context)
            .Add("llama.embedding_length", (uint)s.Hidden)
            .Add("llama.feed_forward_length", (uint)s.Intermediate)
            .Add("llama.attention.head_count", (uint)s.Heads)
            .Add("llama.attention.head_count_kv", (uint)s.KvHeads)
            .Add("llama.attention.layer_norm_rms_epsilon", s.Eps)
            .Add("llama.rope.freq_base", s.Theta)
            .Add("llama.rope.dimension_count", (uint)(s.Hidden / s.Heads))
            .Add("tokenizer.ggml.bos_token_id", 1u)
            .Add("tokenizer.ggml.eos_token_id", s.Eos <= uint.MaxValue ? GgufValue.From((uint)s.Eos) : GgufValue.From(s.Eos));
        foreach (string hf in source.Names)
        {
            if (dropLmHead && hf == "lm_head.weight") continue;
            Assert.True(LlamaGgufNames.TryToGguf(hf, out string? gguf), hf);
            var t = source.Get(hf);
            int heads = hf.EndsWith("q_proj.weight", StringComparison.Ordinal) ? s.Heads : hf.EndsWith("k_proj.weight", StringComparison.Ordinal) ? s.KvHeads : 0;
            if (heads > 0) t = HostTensor.FromArray(LlamaRopePermutation.Permute(t.ToFloat32(), t.Shape[0], heads), t.ShapeArray());
            w.AddTensor(gguf, t, t.Shape.Count == 1 ? GgmlType.F32 : type);
        }

        return w;
    }
}
