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

    /// <summary>Default options.</summary>
    public static CompileOptions Default { get; } = new();
}
