using System.CommandLine;
using Candle.Runtime;

namespace Candle.Cli.Commands;

/// <summary>The <c>--kv-type</c> option of the commands that generate: the element type of the KV cache.</summary>
internal static class KvTypeOption
{
    public static Option<string?> Create() => new("--kv-type")
    {
        Description = "element type of the KV cache: f32, f16 (half the memory) or bf16 (default: the model's dtype)",
    };

    /// <summary>The dtype <paramref name="value"/> names, or null when the flag was not given.</summary>
    /// <exception cref="ArgumentException">The value is not f32, f16 or bf16.</exception>
    public static DType? Resolve(string? value) => value?.ToLowerInvariant() switch
    {
        null => null,
        "f32" or "float32" => DType.F32,
        "f16" or "float16" => DType.F16,
        "bf16" or "bfloat16" => DType.BF16,
        _ => throw new ArgumentException($"--kv-type: '{CliText.Escape(value)}' is not f32, f16 or bf16"),
    };
}
