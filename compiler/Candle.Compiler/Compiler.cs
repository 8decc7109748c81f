using System.Diagnostics;
using Candle.Compiler.Backends;
using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime.Execution;
using Candle.Runtime.Plans;

namespace Candle.Compiler;

/// <summary>
/// The compiler driver: verifies a graph, runs the pass pipeline at <see cref="CompileOptions.OptLevel"/> for the
/// target backend's capabilities, and hands the optimized graph to that backend (<see cref="CompileOptions.Backend"/>,
/// the CPU when unset) to lower. Backends only lower; the pipeline runs here, once, for every backend.
/// </summary>
public static class CandleCompiler
{
    /// <summary>
    /// Compiles <paramref name="graph"/> to a <see cref="Plan"/>: the pipeline at the options' opt level (2 unless set;
    /// 0 runs no optimization pass), then the backend's lowering.
    /// </summary>
    /// <param name="graph">The graph.</param>
    /// <param name="options">Compile options; null for the defaults (CPU, O2).</param>
    /// <returns>A plan that runs, saves and loads without the compiler.</returns>
    /// <exception cref="IrException">The graph is malformed.</exception>
    /// <exception cref="NotSupportedException">A node cannot be lowered, or the backend does not produce plans.</exception>
    /// <exception cref="BackendUnavailableException">The backend cannot run on this machine.</exception>
    public static Plan Compile(Graph graph, CompileOptions? options = null)
    {
        var exe = CompileExecutable(graph, options, out _);
        if (exe is Plan plan) return plan;
        exe.Dispose();
        throw new NotSupportedException($"backend '{Backend(options).Name}' does not produce plans; use CompileExecutable");
    }

    /// <summary>Compiles <paramref name="graph"/> for any backend (the reference backend binds the interpreter).</summary>
    /// <exception cref="IrException">The graph is malformed.</exception>
    /// <exception cref="NotSupportedException">A node cannot be lowered.</exception>
    /// <exception cref="BackendUnavailableException">The backend cannot run on this machine.</exception>
    public static IExecutable CompileExecutable(Graph graph, CompileOptions? options = null) => CompileExecutable(graph, options, out _);

    /// <summary>Compiles <paramref name="graph"/> for any backend and reports what each pass did.</summary>
    /// <exception cref="IrException">The graph is malformed.</exception>
    /// <exception cref="NotSupportedException">A node cannot be lowered.</exception>
    /// <exception cref="BackendUnavailableException">The backend cannot run on this machine.</exception>
    public static IExecutable CompileExecutable(Graph graph, CompileOptions? options, out PipelineReport report)
    {
        options ??= CompileOptions.Default;
        var backend = Backend(options);
        if (!backend.IsAvailable)
        {
            throw new BackendUnavailableException(backend.UnavailableReason is { } why
                ? $"backend '{backend.Name}' cannot run on this machine: {why}"
                : $"backend '{backend.Name}' cannot run on this machine");
        }
        var clock = Stopwatch.StartNew();
        var optimized = Optimize(graph, options, out report);
        options.Progress?.Report(new CompileProgress(CompilePhase.Lowering, backend.Name, report.Passes.Count, clock.Elapsed, optimized.Nodes.Count, 0));
        var exe = backend.Lower(optimized, options);
        if (exe is Plan plan) report.KernelsRun = plan.Definition.Steps.Count(s => s.Kernel != "rt:check_range");
        options.Progress?.Report(new CompileProgress(CompilePhase.Done, backend.Name, report.Passes.Count, clock.Elapsed, optimized.Nodes.Count, exe is Plan ? report.KernelsRun ?? 0 : 0));
        return exe;
    }

    /// <summary>
    /// Verifies <paramref name="graph"/> and runs the default pass pipeline at the options' opt level with the
    /// backend's capabilities: the graph the backend lowers (unchanged for a backend that runs graphs as written).
    /// </summary>
    /// <exception cref="IrException">The graph is malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The opt level is outside 0..3 or the thread count is negative.</exception>
    public static Graph Optimize(Graph graph, CompileOptions? options, out PipelineReport report)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= CompileOptions.Default;
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        Verifier.Verify(graph);
        var capabilities = Backend(options).Capabilities;
        var context = new PassContext(capabilities.RunsGraphsAsWritten ? 0 : options.OptLevel) { Capabilities = capabilities };
        if (options.Progress is { } progress) context.Instruments.Add(new ProgressInstrument(progress));
        if (capabilities.RunsGraphsAsWritten)
        {
            report = context.Report;
            return graph;
        }

        var optimized = PassManager.CreateDefault().Run(graph, context);
        report = context.Report;
        return optimized;
    }

    /// <summary>Runs the default pass pipeline (see <see cref="Optimize(Graph, CompileOptions?, out PipelineReport)"/>).</summary>
    public static Graph Optimize(Graph graph, CompileOptions? options = null) => Optimize(graph, options, out _);

    private static IBackend Backend(CompileOptions? options) => options?.Backend ?? BackendRegistry.Default;
}
