using System.Diagnostics.CodeAnalysis;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Transformers.Quantization;

/// <summary>
/// A target of <c>candle quantize</c>: llama.cpp's file type (<c>llama_ftype</c>, written as <c>general.file_type</c>) and
/// the ggml type most weights get. The per-tensor choices (output and attention-value weights with more bits, 1-D
/// tensors kept in f32...) follow llama.cpp's <c>llama-quantize</c> rules for that file type.
/// </summary>
/// <param name="Name">The name on the command line (Q4_0, Q4_K_M, IQ4_NL...).</param>
/// <param name="FileType">llama.cpp's <c>llama_ftype</c> id.</param>
/// <param name="DefaultType">The type of the weights no rule singles out.</param>
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "llama.cpp's own preset names")]
public sealed record QuantizePreset(string Name, int FileType, GgmlType DefaultType)
{
    /// <summary>Every preset (the float ones convert without quantizing); Q3_K, Q4_K and Q5_K are llama-quantize's aliases of the _M mixes.</summary>
    public static IReadOnlyList<QuantizePreset> All { get; } =
    [
        new("F32", 0, GgmlType.F32),
        new("F16", 1, GgmlType.F16),
        new("BF16", 32, GgmlType.BF16),
        new("Q4_0", 2, GgmlType.Q4_0),
        new("Q4_1", 3, GgmlType.Q4_1),
        new("Q5_0", 8, GgmlType.Q5_0),
        new("Q5_1", 9, GgmlType.Q5_1),
        new("Q8_0", 7, GgmlType.Q8_0),
        new("Q2_K", 10, GgmlType.Q2_K),
        new("Q3_K_M", 12, GgmlType.Q3_K),
        new("Q4_K_M", 15, GgmlType.Q4_K),
        new("Q5_K_M", 17, GgmlType.Q5_K),
        new("Q6_K", 18, GgmlType.Q6_K),
        new("IQ4_NL", 25, GgmlType.IQ4_NL),
        new("IQ4_XS", 30, GgmlType.IQ4_XS),
    ];

    /// <summary>Finds a preset by name, case-insensitively; Q3_K, Q4_K and Q5_K name the _M mixes as in llama-quantize.</summary>
    /// <exception cref="ArgumentException">No preset has that name; the message lists them.</exception>
    public static QuantizePreset Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = name.ToUpperInvariant() switch
        {
            "Q3_K" => "Q3_K_M",
            "Q4_K" => "Q4_K_M",
            "Q5_K" => "Q5_K_M",
            var other => other,
        };
        return All.FirstOrDefault(p => p.Name == n)
            ?? throw new ArgumentException($"unknown quantization type '{name}'; use one of {string.Join(", ", All.Select(p => p.Name))} (Q3_K, Q4_K, Q5_K mean the _M mixes)", nameof(name));
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
