using Candle.Runtime.Kernels.Quant;

namespace Candle.Transformers.Quantization;

/// <summary>
/// llama.cpp's per-tensor type choice (<c>llama_tensor_get_type</c> in llama-quant.cpp) for the presets of
/// <see cref="QuantizePreset"/>: which tensors are quantized at all, the mixes' extra bits for attention values,
/// feed-forward down projections and the output, and the fallback for rows that are not whole blocks. Tensors are
/// visited in llama.cpp's order (by layer, then name), since the choice for attention values counts them.
/// </summary>
internal sealed class LlamaTensorTypes
{
    private readonly QuantizePreset _preset;
    private readonly bool _pure;
    private readonly int _layers;
    private readonly int _gqa;
    private readonly int _experts;
    private readonly bool _tiedEmbeddings;
    private readonly int _attentionValues;
    private int _attentionValueIndex;
    private int _ffnDownIndex;

    public LlamaTensorTypes(QuantizePreset preset, bool pure, int layers, int heads, int kvHeads, int experts, IEnumerable<string> tensorNames)
    {
        _preset = preset;
        _pure = pure;
        _layers = layers;
        _gqa = kvHeads > 0 ? heads / kvHeads : 1;
        _experts = Math.Max(1, experts);
        var names = tensorNames.ToList();
        _tiedEmbeddings = !names.Contains("output.weight");
        _attentionValues = names.Count(n => IsAttentionValue(Category(n)));
    }

    private enum Kind { TokenEmbedding, AttentionQ, AttentionV, AttentionK, AttentionQkv, AttentionKvB, AttentionOutput, FfnUp, FfnGate, FfnDown, Output, Other }

    /// <summary>llama.cpp's tensor order: non-layer tensors first, then by layer number, then by name.</summary>
    public static int Compare(string a, string b)
    {
        int la = Layer(a);
        int lb = Layer(b);
        return la != lb ? la.CompareTo(lb) : string.CompareOrdinal(a, b);
    }

    /// <summary>The type <paramref name="name"/> is written as; call once per tensor in <see cref="Compare"/> order.</summary>
    /// <param name="name">The GGUF tensor name.</param>
    /// <param name="dims">ggml's dimensions (innermost first).</param>
    /// <param name="sourceType">The type the tensor has in the source.</param>
    /// <exception cref="InvalidDataException">The rows are not a whole number of blocks for the chosen type and its fallback.</exception>
    public GgmlType Choose(string name, IReadOnlyList<long> dims, GgmlType sourceType)
    {
        if (dims.Count < 2)
        {
            // 1-D tensors (norms, biases) stay float32, as the converter writes them.
            return GgmlType.F32;
        }

        if (!AllowsQuantization(name))
        {
            return sourceType;
        }

        var kind = Category(name);
        GgmlType type = _preset.DefaultType;
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
        {
            // llama.cpp applies the mixes and the fallback only to quantized file types.
            return type;
        }

        if (!_pure)
        {
            type = ChooseMix(name, kind, dims[0], type);
        }

        return Fallback(name, dims[0], type);
    }

    private static bool AllowsQuantization(string name)
    {
        bool quantize = name.EndsWith("weight", StringComparison.Ordinal);
        foreach (string part in (ReadOnlySpan<string>)["_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d", "attn_rel_b.weight", ".position_embd", "position_embd.weight", "token_types.weight"])
        {
            quantize &= !name.Contains(part, StringComparison.Ordinal);
        }

        return quantize;
    }

    private GgmlType ChooseMix(string name, Kind kind, long columns, GgmlType type)
    {
        string p = _preset.Name;
        if (kind == Kind.Output || (_tiedEmbeddings && kind == Kind.TokenEmbedding))
        {
            if (columns % GgmlTypeTraits.BlockSize(type) != 0) return GgmlType.Q8_0;
            return type != GgmlType.Q8_0 ? GgmlType.Q6_K : type;
        }

        if (kind == Kind.TokenEmbedding)
        {
            return type;
        }

        if (IsAttentionValue(kind))
        {
            if (p == "Q2_K") type = _gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
            else if (p == "Q3_K_M") type = _attentionValueIndex < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
            else if (p is "IQ4_NL" or "IQ4_XS" && _gqa >= 4) type = GgmlType.Q5_K;
            else if (p is "Q4_K_M" or "Q5_K_M" && UseMoreBits(_attentionValueIndex, _attentionValues)) type = GgmlType.Q6_K;
            if (_layers == 80 && type is GgmlType.Q3_K or GgmlType.Q4_K)
            {
                // llama.cpp's 70B rule: eight heads share each value row, so the tensor is small and gets more bits.
                type = GgmlType.Q5_K;
            }

            if (_experts == 8) type = GgmlType.Q8_0;
            _attentionValueIndex++;
            return type;
        }

        switch (kind)
        {
            case Kind.AttentionK:
                return _experts == 8 ? GgmlType.Q8_0 : type;
            case Kind.FfnDown:
            {
                int layer = _experts > 1 ? Layer(name) : _ffnDownIndex;
                int n = _layers;
                if (p == "Q2_K") type = GgmlType.Q3_K;
                else if (p == "Q3_K_M") type = layer < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K;
                else if (p == "Q4_K_M")
                {
                    if (UseMoreBits(layer, n)) type = GgmlType.Q6_K;
                }
                else if (layer < n / 8 && p is "IQ4_NL" or "IQ4_XS") type = GgmlType.Q5_K;
                else if (p == "Q5_K_M" && UseMoreBits(layer, n)) type = GgmlType.Q6_K;
                _ffnDownIndex++;
                return type;
            }

            case Kind.AttentionOutput:
                if (_experts == 8)
                {
                    if (p is "Q2_K" or "Q3_K_M" or "IQ4_NL" or "Q4_K_M" or "IQ4_XS") type = GgmlType.Q5_K;
                }
                else if (p == "Q2_K") type = GgmlType.Q3_K;
                else if (p == "Q3_K_M") type = GgmlType.Q4_K;
                return type;
            default:
                return type;
        }
    }

    private static GgmlType Fallback(string name, long columns, GgmlType type)
    {
        if (columns % GgmlTypeTraits.BlockSize(type) == 0) return type;
        GgmlType fallback = type switch
        {
            GgmlType.IQ4_XS => GgmlType.IQ4_NL,
            GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.Q4_0,
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => throw new InvalidDataException(
                $"tensor '{name}': rows of {columns} values are not whole {GgmlTypeTraits.Name(type)} blocks of {GgmlTypeTraits.BlockSize(type)}, and {GgmlTypeTraits.Name(type)} has no fallback type"),
        };
        return columns % GgmlTypeTraits.BlockSize(fallback) == 0 ? fallback : GgmlType.F16;
    }

    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static bool IsAttentionValue(Kind kind) => kind is Kind.AttentionV or Kind.AttentionQkv or Kind.AttentionKvB;

    private static int Layer(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int layer) ? layer : -1;
    }

    private static Kind Category(string name)
    {
        if (name == "output.weight") return Kind.Output;
        if (name is "token_embd.weight" or "per_layer_token_embd.weight") return Kind.TokenEmbedding;
        if (name.Contains("attn_qkv.weight", StringComparison.Ordinal)) return Kind.AttentionQkv;
        if (name.Contains("attn_kv_b.weight", StringComparison.Ordinal)) return Kind.AttentionKvB;
        if (name.Contains("attn_v.weight", StringComparison.Ordinal)) return Kind.AttentionV;
        if (name.Contains("attn_k.weight", StringComparison.Ordinal)) return Kind.AttentionK;
        if (name.Contains("attn_q.weight", StringComparison.Ordinal)) return Kind.AttentionQ;
        if (name.Contains("attn_output.weight", StringComparison.Ordinal)) return Kind.AttentionOutput;
        if (name.Contains("ffn_up", StringComparison.Ordinal)) return Kind.FfnUp;
        if (name.Contains("ffn_gate", StringComparison.Ordinal)) return Kind.FfnGate;
        if (name.Contains("ffn_down", StringComparison.Ordinal)) return Kind.FfnDown;
        return Kind.Other;
    }
}
