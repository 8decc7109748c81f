using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;

namespace Candle.Transformers.Tests;

public class RopeTests
{
    private static RopeParameters Read(string ropeJson, int headDim = 8, int maxPos = 4096) =>
        RopeParameters.FromConfig(HfConfig.Parse($$"""{"model_type": "llama", {{ropeJson}}}"""), headDim, maxPos);

    [Fact]
    public void Default_frequencies_are_theta_to_the_minus_2i_over_d()
    {
        var r = Read("\"rope_theta\": 10000.0");
        Assert.Equal("default", r.Type);
        Assert.Equal(8, r.RotaryDim);
        double[] want = [1, 0.1, 0.01, 0.001];
        for (int i = 0; i < 4; i++) Assert.Equal(want[i], r.InvFreq[i], want[i] * 1e-6);
        Assert.Equal(1.0, r.AttentionFactor);
    }

    [Fact]
    public void Llama3_scaling_keeps_high_frequencies_divides_low_ones_and_smooths_between()
    {
        // wavelengths 2π/f: 6.28 and 62.8 are below high_freq_wavelen 1024/4 = 256 (kept); 6283 is above
        // low_freq_wavelen 1024 (divided by 8); 628.3 is between: smooth = (1024/628.3185 − 1)/(4 − 1) = 0.2099158,
        // f' = 0.01·((1 − smooth)/8 + smooth) = 0.003086767.
        var r = Read("""
            "rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 1024}
            """);
        Assert.Equal("llama3", r.Type);
        double[] want = [1, 0.1, 0.003086767, 0.000125];
        for (int i = 0; i < 4; i++) Assert.Equal(want[i], r.InvFreq[i], want[i] * 1e-5);
    }

    [Fact]
    public void Linear_scaling_divides_by_the_factor_in_both_config_forms()
    {
        var t4 = Read("\"rope_theta\": 10000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}");
        var t5 = Read("\"rope_parameters\": {\"rope_type\": \"linear\", \"rope_theta\": 10000.0, \"factor\": 4.0}");
        Assert.Equal(t4.InvFreq, t5.InvFreq);
        Assert.Equal(0.25, t4.InvFreq[0], 1e-7);
        Assert.Equal(0.025, t4.InvFreq[1], 1e-7);
    }

    [Fact]
    public void Yarn_interpolates_low_frequencies_and_scales_attention()
    {
        // dim 8, base 10000, original 2048, factor 4: correction dims 8·ln(2048/(32·2π))/(2·ln 10000) = 1.008 → floor 1
        // and 8·ln(2048/(1·2π))/(2·ln 10000) = 2.513 → ceil 3, so the ramp (i − 1)/(3 − 1), clamped, gives
        // extrapolation weights 1, 1, 1/2, 0 for i = 0..3.
        var r = Read("""
            "rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 2048}
            """);
        double[] baseF = [1, 0.1, 0.01, 0.001];
        double[] extra = [1, 1, 0.5, 0];
        for (int i = 0; i < 4; i++)
        {
            double want = (baseF[i] / 4 * (1 - extra[i])) + (baseF[i] * extra[i]);
            Assert.Equal(want, r.InvFreq[i], want * 1e-5);
        }

        Assert.Equal((0.1 * Math.Log(4)) + 1, r.AttentionFactor, 1e-12);
    }

    [Fact]
    public void Partial_rotary_factor_rotates_a_prefix_of_the_head()
    {
        var r = Read("\"rope_theta\": 10000.0, \"partial_rotary_factor\": 0.5", headDim: 16);
        Assert.Equal(8, r.RotaryDim);
        Assert.Equal(4, r.InvFreq.Count);
    }

    [Fact]
    public void Unknown_rope_type_is_rejected_with_the_supported_list()
    {
        var e = Assert.Throws<NotSupportedException>(() => Read("\"rope_scaling\": {\"rope_type\": \"spiral\", \"factor\": 2.0}"));
        Assert.Contains("spiral", e.Message, StringComparison.Ordinal);
        Assert.Contains("llama3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_llama3_field_is_named()
    {
        var e = Assert.Throws<InvalidDataException>(() => Read("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"));
        Assert.Contains("low_freq_factor", e.Message, StringComparison.Ordinal);
    }
}
