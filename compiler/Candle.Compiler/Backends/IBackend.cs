using Candle.Compiler.Ir;
using Candle.Runtime.Execution;

namespace Candle.Compiler.Backends;

/// <summary>
/// A code generator and executor for graphs. Lowering asks <see cref="Capabilities"/>, never a concrete type.
/// </summary>
public interface IBackend
{
    /// <summary>Short name: "reference", "cpu", "cuda", "opencl", "metal".</summary>
    string Name { get; }

    /// <summary>What the backend supports.</summary>
    BackendCapabilities Capabilities { get; }

    /// <summary>Whether the backend can run on this machine (a GPU backend without a GPU is not).</summary>
    bool IsAvailable { get; }

    /// <summary>Compiles an (already optimized) graph into something that runs.</summary>
    /// <exception cref="BackendUnavailableException">The backend cannot run on this machine.</exception>
    IExecutable Compile(Graph graph, CompileOptions options);
}
