using System.Globalization;
using Candle.Compiler.Analysis;
using Candle.Perf.Elementwise;

namespace Candle.Perf.LlamaLayer;

/// <summary>
/// A markdown table of the TinyLlama-shaped decoder layer at O0..O3: graph nodes and the pipeline's kernel estimate
/// before and after the passes, plan steps (kernels launched per call), and the plan's arena bytes for seq 1 and 128.
/// </summary>
public static class LlamaLayerReport
{
    /// <summary>Writes the table to <paramref name="output"/>.</summary>
    public static void Write(TextWriter output)
    {
        var graph = LlamaLayerGraph.Graph;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"TinyLlama-shaped decoder layer (hidden 2048, intermediate 5632, 32 heads, 4 kv heads, head_dim 64), traced: {graph.Nodes.Count} nodes, kernel estimate {KernelEstimate.Count(graph)}"));
        output.WriteLine();
        output.WriteLine("| level | nodes after passes | kernel estimate (before → after) | plan steps | arena seq=1 | arena seq=128 | pass time |");
        output.WriteLine("|---|---|---|---|---|---|---|");
        for (int level = 0; level <= 3; level++)
        {
            var plan = CandlePlans.Compile(graph, level, 2, out var optimized, out var report);
            long Arena(long seq) => plan.PeakArenaBytes(new Dictionary<string, long> { [LlamaLayerGraph.SeqSymbol] = seq });
            string kernels = report.InitialKernels is null ? $"{KernelEstimate.Count(graph)} → {KernelEstimate.Count(optimized)}" : $"{report.InitialKernels} → {report.FinalKernels}";
            output.WriteLine(string.Create(inv, $"| O{level} | {optimized.Nodes.Count} | {kernels} | {plan.Definition.Steps.Count} | {Arena(1) / 1024.0:F1} KiB | {Arena(128) / 1048576.0:F2} MiB | {report.TotalTime.TotalMilliseconds:F0} ms |"));
        }

        output.WriteLine();
        output.WriteLine("Plan steps by kernel at O2:");
        var o2 = CandlePlans.Compile(graph, 2, 2);
        foreach (var g in o2.Definition.Steps.GroupBy(s => s.Kernel).OrderByDescending(g => g.Count()))
        {
            output.WriteLine(string.Create(inv, $"- {g.Key}: {g.Count()} ({string.Join("; ", g.Select(s => s.Label).Distinct())})"));
        }
    }
}
