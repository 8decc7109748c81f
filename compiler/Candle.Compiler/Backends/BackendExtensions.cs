using Candle.Compiler.Ir;
using Candle.Runtime.Execution;

namespace Candle.Compiler.Backends;

/// <summary>Compiling with a given backend through the driver.</summary>
public static class BackendExtensions
{
    /// <summary>
    /// Compiles <paramref name="graph"/> for <paramref name="backend"/>: the driver's pass pipeline, then the backend's
    /// lowering (<see cref="CandleCompiler.CompileExecutable(Graph, CompileOptions?)"/> with the backend set).
    /// </summary>
    /// <exception cref="IrException">The graph is malformed.</exception>
    /// <exception cref="NotSupportedException">A node cannot be lowered.</exception>
    /// <exception cref="BackendUnavailableException">The backend cannot run on this machine.</exception>
    public static IExecutable Compile(this IBackend backend, Graph graph, CompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return CandleCompiler.CompileExecutable(graph, (options ?? CompileOptions.Default) with { Backend = backend });
    }
}
