using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Candle.Runtime.Weights.Gguf;

/// <summary>
/// Maps the tensor names llama.cpp's converter writes for the <c>llama</c> architecture to the Hugging Face
/// <c>LlamaForCausalLM</c> names and back (<c>blk.3.attn_q.weight</c> ↔ <c>model.layers.3.self_attn.q_proj.weight</c>).
/// </summary>
public static class LlamaGgufNames
{
    private static readonly (string Gguf, string Hf)[] Global =
    [
        ("token_embd", "model.embed_tokens"),
        ("output_norm", "model.norm"),
        ("output", "lm_head"),
    ];

    private static readonly (string Gguf, string Hf)[] PerLayer =
    [
        ("attn_norm", "input_layernorm"),
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ];

    /// <summary>The Hugging Face name of a GGUF tensor name, or false for tensors with no counterpart (such as <c>rope_freqs.weight</c>).</summary>
    public static bool TryToHuggingFace(string ggufName, [NotNullWhen(true)] out string? hfName)
    {
        ArgumentNullException.ThrowIfNull(ggufName);
        hfName = null;
        int dot = ggufName.LastIndexOf('.');
        if (dot <= 0)
        {
            return false;
        }

        string stem = ggufName[..dot];
        string suffix = ggufName[dot..];
        if (suffix is not (".weight" or ".bias"))
        {
            return false;
        }

        foreach (var (g, h) in Global)
        {
            if (stem == g)
            {
                hfName = h + suffix;
                return true;
            }
        }

        if (!stem.StartsWith("blk.", StringComparison.Ordinal))
        {
            return false;
        }

        int second = stem.IndexOf('.', 4);
        if (second < 0 || !int.TryParse(stem.AsSpan(4, second - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
        {
            return false;
        }

        string part = stem[(second + 1)..];
        foreach (var (g, h) in PerLayer)
        {
            if (part == g)
            {
                hfName = string.Create(CultureInfo.InvariantCulture, $"model.layers.{layer}.{h}{suffix}");
                return true;
            }
        }

        return false;
    }

    /// <summary>The GGUF name of a Hugging Face Llama tensor name, or false when it has none.</summary>
    public static bool TryToGguf(string hfName, [NotNullWhen(true)] out string? ggufName)
    {
        ArgumentNullException.ThrowIfNull(hfName);
        ggufName = null;
        int dot = hfName.LastIndexOf('.');
        if (dot <= 0)
        {
            return false;
        }

        string stem = hfName[..dot];
        string suffix = hfName[dot..];
        foreach (var (g, h) in Global)
        {
            if (stem == h)
            {
                ggufName = g + suffix;
                return true;
            }
        }

        const string Prefix = "model.layers.";
        if (!stem.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        int second = stem.IndexOf('.', Prefix.Length);
        if (second < 0 || !int.TryParse(stem.AsSpan(Prefix.Length, second - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
        {
            return false;
        }

        string part = stem[(second + 1)..];
        foreach (var (g, h) in PerLayer)
        {
            if (part == h)
            {
                ggufName = string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{g}{suffix}");
                return true;
            }
        }

        return false;
    }
}
