using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Execution;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// The backend that runs graphs on the <see cref="ReferenceInterpreter"/>: every op, every dtype, always
/// available. Slow by design; it defines what the other backends must compute.
/// </summary>
public sealed class ReferenceBackend : IBackend
{
    private static readonly BackendCapabilities s_capabilities = new(
        Enum.GetValues<Op>().ToHashSet(),
        Enum.GetValues<DType>().ToHashSet(),
        VectorWidthBytes: sizeof(double),
        SharedMemoryBytes: 0,
        SupportsFusedGroups: true)
    {
        RunsGraphsAsWritten = true,
    };

    /// <summary>A shared instance (the backend has no state).</summary>
    public static ReferenceBackend Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "reference";

    /// <inheritdoc/>
    public BackendCapabilities Capabilities => s_capabilities;

    /// <inheritdoc/>
    public bool IsAvailable => true;

    /// <summary>Verifies the graph and binds it to the interpreter; the result is safe to run from many threads.</summary>
    /// <exception cref="IrException">The graph is ill-formed.</exception>
    public IExecutable Lower(Graph graph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(graph);
        Verifier.Verify(graph);
        return new ReferenceExecutable(graph);
    }
}
