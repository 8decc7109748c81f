namespace Candle.Compiler.Backends;

/// <summary>Options for compiling a graph.</summary>
public sealed record CompileOptions
{
    /// <summary>Optimization level 0..3 (selects the pass pipeline).</summary>
    public int OptLevel { get; init; } = 2;

    /// <summary>Worker threads for kernels; 0 means the processor count.</summary>
    public int Threads { get; init; }

    /// <summary>The backend that lowers and runs the graph; null for <see cref="BackendRegistry.Default"/> (the CPU).</summary>
    public IBackend? Backend { get; init; }

    /// <summary>The device a GPU backend runs on ("cuda:1", "opencl:0"); null for device 0 of the backend's kind.</summary>
    public string? Device { get; init; }

    /// <summary>
    /// Receives a <see cref="CompileProgress"/> after each pass, before lowering and at the end, on the compiling
    /// thread (a <see cref="Progress{T}"/> forwards them to its synchronization context); null for none.
    /// </summary>
    public IProgress<CompileProgress>? Progress { get; init; }

    /// <summary>
    /// Whether runs that repeat the run before them with the same binding (symbol values, input and output buffers) are
    /// recorded once and replayed as one launch where the device can (CUDA graphs); backends without such graphs ignore
    /// it. When on, an executable's outputs that are not donated inputs may come back as views of buffers it holds,
    /// valid until a later run that does not take them as inputs (one passed back as an input is not overwritten by the
    /// run that reads it).
    /// Null leaves it to the backend (off) or to a caller that knows its runs repeat (a trainer turns it on).
    /// </summary>
    public bool? CaptureGraphs { get; init; }

    /// <summary>Default options.</summary>
    public static CompileOptions Default { get; } = new();
}
