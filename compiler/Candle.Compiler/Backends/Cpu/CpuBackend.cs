using System.Runtime.Intrinsics;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Plans;

namespace Candle.Compiler.Backends.Cpu;

/// <summary>
/// The CPU backend: lowers a graph to a <see cref="Plan"/> of generated IL kernels (elementwise ops and fused
/// elementwise groups, reductions with their fused elementwise producers and consumers, SIMD with a scalar tail) and
/// hand-written runtime kernels (norms, softmax, matmul, convolution, gathers, attention...). Accepts every op and
/// every fused group.
/// </summary>
public sealed class CpuBackend : IBackend
{
    private static readonly BackendCapabilities s_capabilities = new(
        Enum.GetValues<Op>().ToHashSet(),
        Enum.GetValues<DType>().ToHashSet(),
        Vector512.IsHardwareAccelerated ? 64 : Vector256.IsHardwareAccelerated ? 32 : 16,
        0,
        SupportsFusedGroups: true)
    {
        // Reductions run as library kernels; their elementwise producers and consumers fuse as elementwise groups.
        FusedKinds = new HashSet<string> { Passes.FusedKinds.Elementwise, Passes.FusedKinds.MatMulEpilogue, Passes.FusedKinds.QuantMatMulEpilogue, Passes.FusedKinds.ConvEpilogue },
    };

    // Generated elementwise kernels write every output of a multi-output group (the runtime's interpreter does not).
    private static readonly BackendCapabilities s_generatingCapabilities = s_capabilities with
    {
        FusedKinds = new HashSet<string>
        {
            Passes.FusedKinds.Elementwise, Passes.FusedKinds.MultiOutput, Passes.FusedKinds.MatMulEpilogue, Passes.FusedKinds.QuantMatMulEpilogue,
            Passes.FusedKinds.ConvEpilogue,
        },
    };

    // With generated reductions, a reduction and its elementwise producers and consumers are one kernel.
    private static readonly BackendCapabilities s_reducingCapabilities = s_capabilities with
    {
        FusedKinds = new HashSet<string>
        {
            Passes.FusedKinds.Elementwise, Passes.FusedKinds.MultiOutput, Passes.FusedKinds.Reduce, Passes.FusedKinds.MatMulEpilogue,
            Passes.FusedKinds.QuantMatMulEpilogue, Passes.FusedKinds.ConvEpilogue,
        },
    };

    // And reductions broadcast back over their rows (norms and softmax written from primitives) are one kernel per row.
    private static readonly BackendCapabilities s_broadcastReducingCapabilities = s_capabilities with
    {
        FusedKinds = new HashSet<string>
        {
            Passes.FusedKinds.Elementwise, Passes.FusedKinds.MultiOutput, Passes.FusedKinds.Reduce, Passes.FusedKinds.ReduceBroadcast,
            Passes.FusedKinds.MatMulEpilogue, Passes.FusedKinds.QuantMatMulEpilogue, Passes.FusedKinds.ConvEpilogue,
        },
    };

    /// <summary>Creates the backend.</summary>
    /// <param name="vectorBits">Vector width of generated kernels in bits: 512, 256, 128, or 0 for the widest accelerated one.</param>
    /// <param name="generateKernels">
    /// Whether elementwise kernels are generated as IL (the default, fast); when false, each runs in the runtime's
    /// interpreter from its body in the plan, so the plan holds no code and loads where none can be generated
    /// (NativeAOT, trimmed apps).
    /// </param>
    /// <param name="generateReductions">
    /// Whether sum, mean, max, min and prod over float dtypes, with their fused elementwise producers and consumers,
    /// are generated kernels (the default, when <paramref name="generateKernels"/> is set); when false they run as the
    /// runtime's row reduction after their producers.
    /// </param>
    /// <param name="fuseBroadcastReductions">
    /// Whether reductions over a row whose results are broadcast back over it and combined with it (norms and softmax
    /// written from primitives) are one generated kernel per row (the default, with generated reductions); when false
    /// they are a generated reduction followed by an elementwise kernel.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vectorBits"/> is not 0, 128, 256 or 512.</exception>
    public CpuBackend(int vectorBits = 0, bool generateKernels = true, bool generateReductions = true, bool fuseBroadcastReductions = true)
    {
        GeneratesKernels = generateKernels;
        GeneratesReductions = generateKernels && generateReductions;
        FusesBroadcastReductions = GeneratesReductions && fuseBroadcastReductions;
        if (vectorBits is not (0 or 128 or 256 or 512))
        {
            throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "vector width must be 0, 128, 256 or 512 bits");
        }

        VectorBits = vectorBits;
    }

    /// <summary>Whether elementwise kernels are generated as IL; when false the plans hold no generated code.</summary>
    public bool GeneratesKernels { get; }

    /// <summary>Whether reductions with their fused producers and consumers are generated kernels.</summary>
    public bool GeneratesReductions { get; }

    /// <summary>Whether a reduction broadcast back over its rows, with its producers and consumers, is one generated kernel per row.</summary>
    public bool FusesBroadcastReductions { get; }

    /// <summary>The backend with the widest accelerated vectors.</summary>
    public static CpuBackend Instance { get; } = new();

    /// <summary>Vector width of generated kernels (0: the widest accelerated).</summary>
    public int VectorBits { get; }

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public BackendCapabilities Capabilities =>
        FusesBroadcastReductions ? s_broadcastReducingCapabilities : GeneratesReductions ? s_reducingCapabilities : GeneratesKernels ? s_generatingCapabilities : s_capabilities;

    /// <inheritdoc/>
    public bool IsAvailable => true;

    /// <inheritdoc/>
    public IExecutable Lower(Graph optimizedGraph, CompileOptions options) => LowerPlan(optimizedGraph, options);

    /// <summary>
    /// Lowers an optimized graph to a plan: generated elementwise kernels and runtime kernel calls. From opt level 2
    /// constant float32 matmul weights are packed into the GEMM microkernel's panel layout once, when the plan is
    /// created.
    /// </summary>
    /// <exception cref="NotSupportedException">A node cannot be lowered (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The thread count is negative.</exception>
    public Plan LowerPlan(Graph optimizedGraph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(optimizedGraph);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        return CpuPlanEmitter.Emit(Scheduler.Schedule(optimizedGraph, GeneratesReductions, convPools: true), new LoweringOptions(options.Threads, VectorBits, options.OptLevel, GeneratesKernels));
    }

    /// <summary>
    /// Compiles <paramref name="graph"/> with this backend through the driver: the pass pipeline at
    /// <see cref="CompileOptions.OptLevel"/>, then <see cref="LowerPlan"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">A node cannot be lowered (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The opt level is outside 0..3 or the thread count is negative.</exception>
    public Plan CompilePlan(Graph graph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return CandleCompiler.Compile(graph, options with { Backend = this });
    }
}
