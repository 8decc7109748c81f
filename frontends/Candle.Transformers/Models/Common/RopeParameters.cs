using System.Globalization;

namespace Candle.Transformers.Models.Common;

/// <summary>
/// Rotary position embedding settings of a model: the inverse frequencies of the rotated dims and the factor
/// applied to cos and sin, computed as transformers' <c>ROPE_INIT_FUNCTIONS</c> compute them
/// (<c>default</c>, <c>linear</c>, <c>llama3</c>, <c>yarn</c>, <c>longrope</c>; <c>dynamic</c> at its initial length).
/// Frequencies are computed in float32 arithmetic, as transformers does.
/// </summary>
public sealed class RopeParameters
{
    /// <summary>The rope types this class understands.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = ["default", "linear", "dynamic", "llama3", "yarn", "longrope"];

    private RopeParameters(string type, int rotaryDim, float[] invFreq, float[]? longInvFreq, int longThreshold, double attentionFactor)
    {
        Type = type;
        RotaryDim = rotaryDim;
        InvFreq = invFreq;
        LongInvFreq = longInvFreq;
        LongThreshold = longThreshold;
        AttentionFactor = attentionFactor;
    }

    /// <summary>The rope type (<c>default</c>, <c>llama3</c>, ...).</summary>
    public string Type { get; }

    /// <summary>How many leading dims of each head are rotated (head_dim × partial_rotary_factor, even).</summary>
    public int RotaryDim { get; }

    /// <summary>The inverse frequencies, <see cref="RotaryDim"/>/2 of them.</summary>
    public IReadOnlyList<float> InvFreq { get; }

    /// <summary>
    /// For <c>longrope</c>: the frequencies used once the sequence is longer than <see cref="LongThreshold"/>
    /// (that is, when the largest position id is ≥ the threshold); null otherwise.
    /// </summary>
    public IReadOnlyList<float>? LongInvFreq { get; }

    /// <summary>The length past which <see cref="LongInvFreq"/> applies (the original max position embeddings).</summary>
    public int LongThreshold { get; }

    /// <summary>The factor multiplied into cos and sin (yarn and longrope attention scaling; 1 otherwise).</summary>
    public double AttentionFactor { get; }

    /// <summary>Plain rope with base <paramref name="theta"/> over <paramref name="rotaryDim"/> dims.</summary>
    public static RopeParameters Default(int rotaryDim, double theta) =>
        new("default", CheckDim(rotaryDim), BaseInvFreq(rotaryDim, theta), null, 0, 1.0);

    /// <summary>
    /// Reads the rope settings of <paramref name="config"/>: <c>rope_parameters</c> (transformers 5) or
    /// <c>rope_theta</c> + <c>rope_scaling</c> (transformers 4), <c>partial_rotary_factor</c> in either place, and
    /// <c>original_max_position_embeddings</c> at the top level (Phi-3) or inside the rope settings.
    /// </summary>
    /// <param name="config">The model config.</param>
    /// <param name="headDim">The attention head size.</param>
    /// <param name="maxPositionEmbeddings">The model's <c>max_position_embeddings</c>.</param>
    /// <exception cref="NotSupportedException">The rope type is unknown; the message lists the supported ones.</exception>
    /// <exception cref="InvalidDataException">A required scaling field is missing or malformed; the message names it.</exception>
    public static RopeParameters FromConfig(HfConfig config, int headDim, int maxPositionEmbeddings)
    {
        ArgumentNullException.ThrowIfNull(config);
        var p = config.GetObject("rope_parameters") ?? config.GetObject("rope_scaling");
        string type = p?.GetString("rope_type", "type") ?? "default";
        double theta = config.RopeTheta();
        double partial = p?.GetDouble(double.NaN, "partial_rotary_factor") is double pp && !double.IsNaN(pp)
            ? pp
            : config.GetDouble(1.0, "partial_rotary_factor");
        int dim = (int)(headDim * partial);
        if (dim <= 0 || dim % 2 != 0 || dim > headDim)
        {
            throw config.Error($"rotary dim {dim} (head_dim {headDim} × partial_rotary_factor {partial.ToString(CultureInfo.InvariantCulture)}) must be even and in (0, head_dim]");
        }

        int originalMax = config.Has("original_max_position_embeddings")
            ? config.GetInt(maxPositionEmbeddings, "original_max_position_embeddings")
            : p?.GetInt(maxPositionEmbeddings, "original_max_position_embeddings") ?? maxPositionEmbeddings;
        var result = Build(config, p, type, dim, theta, originalMax, maxPositionEmbeddings);
        if (!result.InvFreq.All(float.IsFinite) || (result.LongInvFreq is { } l && !l.All(float.IsFinite)) || !double.IsFinite(result.AttentionFactor))
        {
            throw config.Error($"the rope settings (rope_theta {theta.ToString("R", CultureInfo.InvariantCulture)}, rope type '{type}') give non-finite rotary frequencies");
        }

        return result;
    }

    private static RopeParameters Build(HfConfig config, HfConfig? p, string type, int dim, double theta, int originalMax, int maxPositionEmbeddings)
    {
        var baseFreq = BaseInvFreq(dim, theta);
        switch (type)
        {
            case "default":
                return new(type, dim, baseFreq, null, 0, 1.0);
            case "linear":
            {
                float factor = (float)Require(config, p!, "factor");
                return new(type, dim, [.. baseFreq.Select(f => f / factor)], null, 0, 1.0);
            }

            case "dynamic":
            {
                // Up to max_position_embeddings, dynamic NTK scaling leaves the frequencies unscaled.
                Require(config, p!, "factor");
                return new(type, dim, baseFreq, null, 0, 1.0);
            }

            case "llama3":
                return new(type, dim, Llama3(config, p!, baseFreq, originalMax), null, 0, 1.0);
            case "yarn":
                return Yarn(config, p!, dim, theta, originalMax, maxPositionEmbeddings);
            case "longrope":
                return LongRope(config, p!, dim, theta, originalMax, maxPositionEmbeddings);
            default:
                throw new NotSupportedException(
                    $"{config.Path}: rope type '{type}' is not supported; supported: {string.Join(", ", SupportedTypes)}");
        }
    }

    private static int CheckDim(int dim) =>
        dim > 0 && dim % 2 == 0 ? dim : throw new ArgumentOutOfRangeException(nameof(dim), dim, "rotary dim must be positive and even");

    private static float[] BaseInvFreq(int dim, double theta)
    {
        var r = new float[dim / 2];
        for (int i = 0; i < r.Length; i++)
        {
            float exponent = 2 * i / (float)dim;
            r[i] = 1.0f / (float)Math.Pow((float)theta, exponent);
        }

        return r;
    }

    private static double Require(HfConfig config, HfConfig p, string key)
    {
        double v = p.GetDouble(double.NaN, key);
        if (double.IsNaN(v)) throw config.Error($"rope scaling of type '{p.GetString("rope_type", "type")}' needs '{key}'");
        return v > 0 ? v : throw config.Error($"rope scaling '{key}' must be > 0, got {v.ToString("R", CultureInfo.InvariantCulture)}");
    }

    private static float[] Llama3(HfConfig config, HfConfig p, float[] invFreq, int originalMax)
    {
        float factor = (float)Require(config, p, "factor");
        float low = (float)Require(config, p, "low_freq_factor");
        float high = (float)Require(config, p, "high_freq_factor");
        float oldContext = originalMax;
        float lowWavelen = oldContext / low;
        float highWavelen = oldContext / high;
        var r = new float[invFreq.Length];
        for (int i = 0; i < r.Length; i++)
        {
            float f = invFreq[i];
            float wavelen = 2 * MathF.PI / f;
            float scaled = wavelen > lowWavelen ? f / factor : f;
            bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            if (medium)
            {
                float smooth = ((oldContext / wavelen) - low) / (high - low);
                scaled = ((1 - smooth) * scaled / factor) + (smooth * scaled);
            }

            r[i] = scaled;
        }

        return r;
    }

    private static RopeParameters Yarn(HfConfig config, HfConfig p, int dim, double theta, int originalMax, int maxPos)
    {
        double factor = p.GetDouble(double.NaN, "factor");
        if (double.IsNaN(factor)) factor = maxPos / (double)originalMax;
        double attention = p.GetDouble(double.NaN, "attention_factor");
        double mscale = p.GetDouble(0, "mscale");
        double mscaleAllDim = p.GetDouble(0, "mscale_all_dim");
        static double GetMscale(double scale, double m = 1) => scale <= 1 ? 1.0 : (0.1 * m * Math.Log(scale)) + 1.0;
        if (double.IsNaN(attention))
        {
            attention = mscale != 0 && mscaleAllDim != 0 ? GetMscale(factor, mscale) / GetMscale(factor, mscaleAllDim) : GetMscale(factor);
        }

        double betaFast = p.GetDouble(0, "beta_fast") is var bf && bf != 0 ? bf : 32;
        double betaSlow = p.GetDouble(0, "beta_slow") is var bs && bs != 0 ? bs : 1;
        bool truncate = p.GetBool(true, "truncate");
        double CorrectionDim(double rotations) => dim * Math.Log(originalMax / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double lo = CorrectionDim(betaFast), hi = CorrectionDim(betaSlow);
        if (truncate)
        {
            lo = Math.Floor(lo);
            hi = Math.Ceiling(hi);
        }

        lo = Math.Max(lo, 0);
        hi = Math.Min(hi, dim - 1);
        if (lo == hi) hi += 0.001;
        var r = new float[dim / 2];
        for (int i = 0; i < r.Length; i++)
        {
            float posFreq = (float)Math.Pow((float)theta, 2 * i / (float)dim);
            float extrapolation = 1.0f / posFreq;
            float interpolation = 1.0f / ((float)factor * posFreq);
            float ramp = Math.Clamp((float)((i - lo) / (hi - lo)), 0f, 1f);
            float extrapolationFactor = 1 - ramp;
            r[i] = (interpolation * (1 - extrapolationFactor)) + (extrapolation * extrapolationFactor);
        }

        return new("yarn", dim, r, null, 0, attention);
    }

    private static List<double> ReadNumbers(HfConfig config, HfConfig p, string key)
    {
        string text = p.GetString(key) ?? throw config.Error($"rope scaling of type 'longrope' needs '{key}'");
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Array) throw config.Error($"rope scaling '{key}' is not a list");
            return [.. doc.RootElement.EnumerateArray().Select(e => e.GetDouble())];
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw config.Error($"rope scaling '{key}' is not a list of numbers: {e.Message}");
        }
    }

    private static RopeParameters LongRope(HfConfig config, HfConfig p, int dim, double theta, int originalMax, int maxPos)
    {
        float[] ReadFactors(string key)
        {
            var list = ReadNumbers(config, p, key);
            if (list.Count != dim / 2) throw config.Error($"rope scaling '{key}' has {list.Count} entries; expected rotary dim / 2 = {dim / 2}");
            return [.. list.Select(x => (float)x)];
        }

        var shortFactor = ReadFactors("short_factor");
        var longFactor = ReadFactors("long_factor");
        double factor = p.GetDouble(double.NaN, "factor");
        if (double.IsNaN(factor)) factor = maxPos / (double)originalMax;
        double attention = p.GetDouble(double.NaN, "attention_factor");
        if (double.IsNaN(attention)) attention = factor <= 1.0 ? 1.0 : Math.Sqrt(1 + (Math.Log(factor) / Math.Log(originalMax)));
        float[] Freqs(float[] ext)
        {
            var r = new float[dim / 2];
            for (int i = 0; i < r.Length; i++) r[i] = 1.0f / (ext[i] * (float)Math.Pow((float)theta, 2 * i / (float)dim));
            return r;
        }

        return new("longrope", dim, Freqs(shortFactor), Freqs(longFactor), originalMax, attention);
    }
}
