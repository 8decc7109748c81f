using System.Globalization;
using System.Text.Json;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Transformers.Models.Gguf;

/// <summary>
/// Translates a GGUF file's rope scaling into transformers' <c>rope_parameters</c>: <c>rope.scaling.type</c>
/// <c>linear</c> or <c>yarn</c> (with <c>rope.scaling.factor</c> and <c>rope.scaling.original_context_length</c>),
/// the older <c>rope.scale_linear</c>, and the <c>rope_freqs.weight</c> tensor that llama.cpp's converter writes for
/// llama3 scaling, whose per-frequency factors are matched against the llama3 formula to recover its settings.
/// </summary>
internal static class GgufRopeScaling
{
    private const string RopeFreqs = "rope_freqs.weight";
    private static readonly int[] OriginalContexts = [8192, 4096, 2048, 16384, 32768, 65536, 131072];

    /// <summary>Writes <c>rope_type</c> and its fields into the open <c>rope_parameters</c> object.</summary>
    /// <exception cref="NotSupportedException">The scaling is of an unknown type or does not match a llama3 setting.</exception>
    public static void Write(GgufFile file, string arch, double theta, int rotaryDim, int context, Utf8JsonWriter w)
    {
        string p = arch + ".";
        string type = file.Metadata.TryGetString(p + "rope.scaling.type", out string? t) ? t : "none";
        double? factor = GgufHfConfig.OptionalNumber(file, p + "rope.scaling.factor");
        if (type == "none" && GgufHfConfig.OptionalNumber(file, p + "rope.scale_linear") is double linear && linear != 1.0)
        {
            type = "linear";
            factor = linear;
        }

        if (file.Contains(RopeFreqs))
        {
            if (type != "none") throw new NotSupportedException($"{file.Path}: both {RopeFreqs} and rope.scaling.type '{type}' are set; only one is supported");
            WriteLlama3(file, theta, rotaryDim, w);
            return;
        }

        switch (type)
        {
            case "none":
                w.WriteString("rope_type", "default");
                return;
            case "linear":
                w.WriteString("rope_type", "linear");
                w.WriteNumber("factor", factor ?? throw Missing(file, p + "rope.scaling.factor", type));
                return;
            case "yarn":
                w.WriteString("rope_type", "yarn");
                w.WriteNumber("factor", factor ?? throw Missing(file, p + "rope.scaling.factor", type));
                w.WriteNumber("original_max_position_embeddings", GgufHfConfig.OptionalPositive(file, p + "rope.scaling.original_context_length") ?? context);
                if (GgufHfConfig.OptionalNumber(file, p + "rope.scaling.yarn_beta_fast") is double fast) w.WriteNumber("beta_fast", fast);
                if (GgufHfConfig.OptionalNumber(file, p + "rope.scaling.yarn_beta_slow") is double slow) w.WriteNumber("beta_slow", slow);
                return;
            default:
                throw new NotSupportedException($"{file.Path}: rope.scaling.type '{type}' is not supported; supported: none, linear, yarn (and llama3 through {RopeFreqs})");
        }
    }

    private static GgufFormatException Missing(GgufFile file, string key, string type) =>
        new(file.Path, null, key, $"rope scaling '{type}' needs this key");

    /// <summary>
    /// llama.cpp divides each rope frequency by <c>rope_freqs[i]</c>; its converter computes those factors from
    /// transformers' llama3 settings (factor, low/high frequency factors, original context). The settings are recovered
    /// by recomputing the factors for the candidate settings and keeping the one that reproduces the tensor.
    /// </summary>
    private static void WriteLlama3(GgufFile file, double theta, int rotaryDim, Utf8JsonWriter w)
    {
        var tensor = file.Dequantize(RopeFreqs);
        var stored = tensor.AsSpan<float>();
        if (stored.Length != rotaryDim / 2)
        {
            throw new GgufFormatException(file.Path, RopeFreqs, null, $"has {stored.Length} values; rope.dimension_count {rotaryDim} needs {rotaryDim / 2}");
        }

        float factor = 1;
        foreach (float f in stored) factor = Math.Max(factor, f);
        if (factor == 1)
        {
            w.WriteString("rope_type", "default");
            return;
        }

        foreach (int original in OriginalContexts)
        {
            foreach (var (low, high) in new[] { (1.0, 4.0), (1.0, 2.0), (2.0, 4.0) })
            {
                if (Matches(stored, theta, rotaryDim, factor, low, high, original))
                {
                    w.WriteString("rope_type", "llama3");
                    w.WriteNumber("factor", factor);
                    w.WriteNumber("low_freq_factor", low);
                    w.WriteNumber("high_freq_factor", high);
                    w.WriteNumber("original_max_position_embeddings", original);
                    return;
                }
            }
        }

        throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
            $"{file.Path}: {RopeFreqs} holds rope factors (max {factor}) that match no llama3 scaling with factor {factor}, low/high frequency factors 1/4, 1/2 or 2/4 and an original context of {string.Join(", ", OriginalContexts)}"));
    }

    private static bool Matches(ReadOnlySpan<float> stored, double theta, int dim, double factor, double low, double high, int original)
    {
        double lowWavelen = original / low;
        double highWavelen = original / high;
        for (int i = 0; i < stored.Length; i++)
        {
            double freq = 1.0 / Math.Pow(theta, 2.0 * i / dim);
            double wavelen = 2 * Math.PI / freq;
            double expected = wavelen < highWavelen ? 1
                : wavelen > lowWavelen ? factor
                : 1 / (((1 - (((original / wavelen) - low) / (high - low))) / factor) + (((original / wavelen) - low) / (high - low)));
            if (Math.Abs(expected - stored[i]) > 1e-3 * expected) return false;
        }

        return true;
    }
}
