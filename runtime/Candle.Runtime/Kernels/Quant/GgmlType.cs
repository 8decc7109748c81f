using System.Diagnostics.CodeAnalysis;

namespace Candle.Runtime.Kernels.Quant;

/// <summary>
/// The tensor element types of ggml, with the numeric ids GGUF files store (ggml's <c>enum ggml_type</c>).
/// Ids that ggml retired (4, 5, 31–33, 36–38) are not members: a file using them is rejected.
/// </summary>
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "ggml's own type names")]
public enum GgmlType
{
    /// <summary>32-bit float.</summary>
    F32 = 0,
    /// <summary>16-bit IEEE half.</summary>
    F16 = 1,
    /// <summary>32 values: an f16 scale and 4-bit signed quants (value = (q − 8)·d).</summary>
    Q4_0 = 2,
    /// <summary>32 values: f16 scale and minimum, 4-bit quants (value = q·d + m).</summary>
    Q4_1 = 3,
    /// <summary>32 values: f16 scale, 5-bit signed quants.</summary>
    Q5_0 = 6,
    /// <summary>32 values: f16 scale and minimum, 5-bit quants.</summary>
    Q5_1 = 7,
    /// <summary>32 values: f16 scale, 8-bit signed quants.</summary>
    Q8_0 = 8,
    /// <summary>32 values: f16 scale, f16 sum, 8-bit quants (an activation format, not stored by converters).</summary>
    Q8_1 = 9,
    /// <summary>256-value super-block, 2-bit quants with 4-bit scales and minimums.</summary>
    Q2_K = 10,
    /// <summary>256-value super-block, 3-bit quants with 6-bit scales.</summary>
    Q3_K = 11,
    /// <summary>256-value super-block, 4-bit quants with 6-bit scales and minimums.</summary>
    Q4_K = 12,
    /// <summary>256-value super-block, 5-bit quants with 6-bit scales and minimums.</summary>
    Q5_K = 13,
    /// <summary>256-value super-block, 6-bit quants with 8-bit scales.</summary>
    Q6_K = 14,
    /// <summary>256-value super-block, f32 scale and 8-bit quants with group sums (an activation format).</summary>
    Q8_K = 15,
    /// <summary>i-quant, 2.06 bits per weight.</summary>
    IQ2_XXS = 16,
    /// <summary>i-quant, 2.31 bits per weight.</summary>
    IQ2_XS = 17,
    /// <summary>i-quant, 3.06 bits per weight.</summary>
    IQ3_XXS = 18,
    /// <summary>i-quant, 1.56 bits per weight.</summary>
    IQ1_S = 19,
    /// <summary>i-quant, 4.5 bits per weight, non-linear.</summary>
    IQ4_NL = 20,
    /// <summary>i-quant, 3.44 bits per weight.</summary>
    IQ3_S = 21,
    /// <summary>i-quant, 2.5 bits per weight.</summary>
    IQ2_S = 22,
    /// <summary>i-quant, 4.25 bits per weight.</summary>
    IQ4_XS = 23,
    /// <summary>8-bit signed integer.</summary>
    I8 = 24,
    /// <summary>16-bit signed integer.</summary>
    I16 = 25,
    /// <summary>32-bit signed integer.</summary>
    I32 = 26,
    /// <summary>64-bit signed integer.</summary>
    I64 = 27,
    /// <summary>64-bit float.</summary>
    F64 = 28,
    /// <summary>i-quant, 1.75 bits per weight.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
    /// <summary>Ternary, 1.69 bits per weight.</summary>
    TQ1_0 = 34,
    /// <summary>Ternary, 2.06 bits per weight.</summary>
    TQ2_0 = 35,
    /// <summary>MX FP4: an E8M0 shared exponent and 32 E2M1 values.</summary>
    MXFP4 = 39,
}
