namespace Candle.Compiler.Backends.Metal;

/// <summary>
/// The library kernels, written once in MSL and embedded in this assembly (<c>Backends/Metal/Library/*.metal</c>):
/// copies, fills, gathers, GEMM with simdgroup matrices, attention, rope and quantized GEMV. Every kernel name starts
/// with <see cref="Prefix"/>.
/// </summary>
internal static class MetalLibrary
{
    /// <summary>The prefix of library kernel names.</summary>
    public const string Prefix = "cdlib_";

    private static readonly string[] s_files = ["memory", "gemm", "attention", "rows", "rope", "quant"];

    /// <summary>The library's kernels, to follow the MSL header.</summary>
    public static string Body { get; } = string.Join("\n", s_files.Select(f => MslShim.ReadResource($"Candle.Compiler.Metal.{f}.metal")));

    /// <summary>The library's MSL source (one translation unit).</summary>
    public static string Source { get; } = MslHeader + Body;

    /// <summary>The first lines of every MSL source.</summary>
    public const string MslHeader = "#include <metal_stdlib>\nusing namespace metal;\n\n";
}
