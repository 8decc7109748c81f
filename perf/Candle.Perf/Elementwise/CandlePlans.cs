using Candle.Compiler;
using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime.Plans;

namespace Candle.Perf.Elementwise;

/// <summary>Compiles a graph for the CPU after the default pass pipeline at a given opt level.</summary>
public static class CandlePlans
{
    /// <summary>Runs <see cref="PassManager.CreateDefault"/> at <paramref name="optLevel"/>, then compiles.</summary>
    public static Plan Compile(Graph graph, int optLevel, int threads) => Compile(graph, optLevel, threads, out _, out _);

    /// <summary>As <see cref="Compile(Graph, int, int)"/>, returning the optimized graph and the pipeline report.</summary>
    public static Plan Compile(Graph graph, int optLevel, int threads, out Graph optimized, out PipelineReport report)
    {
        var context = new PassContext(optLevel) { Capabilities = CpuBackend.Instance.Capabilities };
        optimized = PassManager.CreateDefault().Run(graph, context);
        report = context.Report;
        return CandleCompiler.Compile(optimized, new CompileOptions { OptLevel = optLevel, Threads = threads });
    }
}
