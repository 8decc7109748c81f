using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Devices.Metal;
using Candle.Runtime.Execution;

namespace Candle.Compiler.Backends.Metal;

/// <summary>
/// Apple GPUs through Metal Shading Language: generated kernels (elementwise ops and fused chains, row reductions,
/// softmax and norms) rendered from the kernel IR and library kernels written in MSL, in one MSL payload. On macOS
/// with a Metal device the payload is compiled by Metal and dispatched there; elsewhere the backend is unavailable,
/// except through the shim (<see cref="ThroughShim"/>), which compiles the same MSL with clang++ against a C++ model
/// of MSL and runs it on the CPU with Metal's execution model (the tests' way to check it).
/// </summary>
public sealed class MetalBackend : IBackend
{
    private static readonly BackendCapabilities s_capabilities = new(
        Enum.GetValues<Op>().Where(o => o is not (Op.QuantMatMul or Op.QuantEmbedding)).ToHashSet(),
        new HashSet<DType> { DType.F32, DType.F16, DType.BF16, DType.Bool, DType.I64, DType.I32, DType.U8, DType.I8 },
        16,
        32 * 1024,
        SupportsFusedGroups: true)
    {
        FusedKinds = new HashSet<string> { Passes.FusedKinds.Elementwise, Passes.FusedKinds.MatMulEpilogue },
    };

    private readonly bool _shim;

    private MetalBackend(bool shim) => _shim = shim;

    /// <summary>The backend on this machine's Metal device.</summary>
    public static MetalBackend Instance { get; } = new(shim: false);

    /// <summary>The backend running its MSL through the shim on the CPU (needs clang++); for verification without a Mac.</summary>
    public static MetalBackend ThroughShim { get; } = new(shim: true);

    /// <summary>
    /// What <c>metal</c> means on this host: the Metal device where there is one, else the shim where clang++ is
    /// installed (the same MSL run on the CPU), else the device backend, which reports both as missing.
    /// </summary>
    public static MetalBackend ForThisHost => MetalDevice.IsSupported || MslShim.ClangPath is null ? Instance : ThroughShim;

    /// <inheritdoc/>
    public string Name => _shim ? "metal-shim" : "metal";

    /// <inheritdoc/>
    public BackendCapabilities Capabilities => s_capabilities;

    /// <inheritdoc/>
    public bool IsAvailable => _shim ? MslShim.ClangPath is not null : MetalDevice.IsSupported;

    /// <inheritdoc/>
    public string? UnavailableReason => IsAvailable ? null
        : _shim ? MslShim.MissingReason
        : MslShim.ClangPath is null ? $"{MetalDevice.UnavailableReason}; nor can its MSL run through the shim: {MslShim.MissingReason}"
        : $"{MetalDevice.UnavailableReason} (the 'metal-shim' backend runs the same MSL on the CPU through clang++)";

    /// <inheritdoc/>
    public IExecutable Lower(Graph optimizedGraph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(optimizedGraph);
        ArgumentNullException.ThrowIfNull(options);
        if (UnavailableReason is { } why) throw new BackendUnavailableException($"backend '{Name}' cannot run on this machine: {why}");

        var program = Emit(optimizedGraph);
        IMslRunner runner = _shim ? new ShimMslRunner(program.Generated) : new MetalDeviceRunner(program.Payload.Source);
        return new MetalExecutable(program, runner);
    }

    /// <summary>The Metal program of an optimized graph, without compiling it.</summary>
    /// <exception cref="NotSupportedException">A call has no Metal kernel.</exception>
    internal static MetalProgram Emit(Graph optimizedGraph) => MetalPlanEmitter.Emit(Scheduler.Schedule(optimizedGraph));
}
