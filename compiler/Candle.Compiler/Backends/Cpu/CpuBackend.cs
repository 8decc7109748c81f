using System.Runtime.Intrinsics;
using Candle.Compiler.Ir;
using Candle.Compiler.Lowering;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Cpu;

/// <summary>
/// The CPU backend: lowers a graph to a <see cref="Plan"/> of generated IL kernels (elementwise ops and fused
/// elementwise groups, SIMD with a scalar tail) and hand-written runtime kernels (reductions, norms, softmax,
/// matmul, convolution, gathers, attention...). Accepts every op and every fused group.
/// </summary>
public sealed class CpuBackend : IBackend
{
    private static readonly BackendCapabilities s_capabilities = new(
        Enum.GetValues<Op>().ToHashSet(),
        Enum.GetValues<DType>().ToHashSet(),
        Vector512.IsHardwareAccelerated ? 64 : Vector256.IsHardwareAccelerated ? 32 : 16,
        0,
        SupportsFusedGroups: true);

    /// <summary>Creates the backend.</summary>
    /// <param name="vectorBits">Vector width of generated kernels in bits: 512, 256, 128, or 0 for the widest accelerated one.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vectorBits"/> is not 0, 128, 256 or 512.</exception>
    public CpuBackend(int vectorBits = 0)
    {
        if (vectorBits is not (0 or 128 or 256 or 512))
        {
            throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vector width must be 0, 128, 256 or 512 bits");
        }

        VectorBits = vectorBits;
    }

    /// <summary>The backend with the widest accelerated vectors.</summary>
    public static CpuBackend Instance { get; } = new();

    /// <summary>Vector width of generated kernels (0: the widest accelerated).</summary>
    public int VectorBits { get; }

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public BackendCapabilities Capabilities => s_capabilities;

    /// <inheritdoc/>
    public bool IsAvailable => true;

    /// <summary>The IL listing of the kernels of the last plan compiled by this instance.</summary>
    public string LastIlDump { get; private set; } = string.Empty;

    /// <inheritdoc/>
    public IExecutable Compile(Graph graph, CompileOptions options) => CompilePlan(graph, options);

    /// <summary>Compiles <paramref name="graph"/> to a plan.</summary>
    /// <exception cref="NotSupportedException">A node cannot be lowered (the message names it).</exception>
    public Plan CompilePlan(Graph graph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        var plan = GraphLowering.Lower(graph, options.Threads, VectorBits);
        LastIlDump = plan.KernelDump;
        return plan;
    }
}
