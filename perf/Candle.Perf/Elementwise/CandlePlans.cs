using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime.Plans;

namespace Candle.Perf.Elementwise;

/// <summary>Compiles a graph with the CPU backend at a given opt level (which selects the pass pipeline and lowering).</summary>
public static class CandlePlans
{
    /// <summary>Compiles <paramref name="graph"/> at <paramref name="optLevel"/> on <paramref name="threads"/> threads.</summary>
    public static Plan Compile(Graph graph, int optLevel, int threads) => Compile(graph, optLevel, threads, out _, out _);

    /// <summary>As <see cref="Compile(Graph, int, int)"/>, also returning the optimized graph and the pipeline's report.</summary>
    public static Plan Compile(Graph graph, int optLevel, int threads, out Graph optimized, out PipelineReport report)
    {
        var options = new CompileOptions { OptLevel = optLevel, Threads = threads, Backend = CpuBackend.Instance };
        optimized = CandleCompiler.Optimize(graph, options, out report);
        return CpuBackend.Instance.LowerPlan(optimized, options);
    }
}
