using Candle.Compiler.Ir;
using Candle.Runtime.Execution;

namespace Candle.Compiler.Backends;

/// <summary>
/// A code generator and executor for graphs. The compiler driver (<see cref="CandleCompiler"/>) runs the pass pipeline
/// for the backend's <see cref="Capabilities"/>; the backend only lowers the optimized graph. Passes and lowering ask
/// capabilities, never a concrete type. A backend holds no per-compilation state, so one instance serves many
/// compilations at once.
/// </summary>
public interface IBackend
{
    /// <summary>Short name: "reference", "cpu", "cuda", "opencl", "metal".</summary>
    string Name { get; }

    /// <summary>What the backend supports.</summary>
    BackendCapabilities Capabilities { get; }

    /// <summary>Whether the backend can run on this machine (a GPU backend without a GPU is not).</summary>
    bool IsAvailable { get; }

    /// <summary>What is missing for the backend to run here (a device, a driver, a tool), or null when it is available or does not say.</summary>
    string? UnavailableReason => null;

    /// <summary>Lowers a graph that the driver has optimized for <see cref="Capabilities"/> into something that runs.</summary>
    /// <exception cref="BackendUnavailableException">The backend cannot run on this machine.</exception>
    /// <exception cref="NotSupportedException">A node cannot be lowered (the message names it).</exception>
    IExecutable Lower(Graph optimizedGraph, CompileOptions options);
}
