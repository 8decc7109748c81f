namespace Candle.Compiler.Backends;

/// <summary>
/// One step of a compilation, reported through <see cref="CompileOptions.Progress"/>: each pass of the pipeline
/// after it ran (<see cref="CompilePhase.Pass"/>, with its name, time and node counts), the backend's lowering before
/// it starts (<see cref="CompilePhase.Lowering"/>) and the end (<see cref="CompilePhase.Done"/>, with the kernel calls
/// of the lowered plan).
/// </summary>
/// <param name="Phase">What happened.</param>
/// <param name="Name">The pass's name, or the backend's.</param>
/// <param name="PassesRun">Passes run so far.</param>
/// <param name="Elapsed">Time since the compilation started.</param>
/// <param name="Nodes">Nodes of the graph after the pass (or of the graph being lowered).</param>
/// <param name="KernelCalls">Kernel calls of the lowered plan (<see cref="CompilePhase.Done"/> of a plan), else 0.</param>
public sealed record CompileProgress(CompilePhase Phase, string Name, int PassesRun, TimeSpan Elapsed, int Nodes, int KernelCalls);

/// <summary>The phases <see cref="CompileProgress"/> reports.</summary>
public enum CompilePhase
{
    /// <summary>A pass of the pipeline ran.</summary>
    Pass,

    /// <summary>The optimized graph goes to the backend.</summary>
    Lowering,

    /// <summary>The compilation is complete.</summary>
    Done,
}
