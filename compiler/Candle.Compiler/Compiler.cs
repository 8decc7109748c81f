using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Cpu;
using Candle.Compiler.Ir;
using Candle.Runtime.Plans;

namespace Candle.Compiler;

/// <summary>The entry point: compiles a graph to a CPU <see cref="Plan"/>.</summary>
public static class CandleCompiler
{
    /// <summary>
    /// Verifies <paramref name="graph"/>, runs the default pass pipeline at <see cref="CompileOptions.OptLevel"/>
    /// (2 unless set; 0 runs no optimization pass) for the CPU backend's capabilities, and lowers the result to a
    /// plan of CPU kernel calls.
    /// </summary>
    /// <param name="graph">The graph (already optimized by the pass pipeline, or not).</param>
    /// <param name="options">Compile options; null for the defaults.</param>
    /// <returns>A plan that runs, saves and loads without the compiler.</returns>
    /// <exception cref="IrException">The graph is malformed.</exception>
    /// <exception cref="NotSupportedException">A node cannot be lowered.</exception>
    public static Plan Compile(Graph graph, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Verifier.Verify(graph);
        return CpuBackend.Instance.CompilePlan(graph, options ?? CompileOptions.Default);
    }
}
