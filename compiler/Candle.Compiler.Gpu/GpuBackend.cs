using System.Collections.Concurrent;
using Candle.Compiler.Backends;
using Candle.Compiler.Gpu.Kernels;
using Candle.Compiler.Ir;
using Candle.Compiler.Scheduling;
using Candle.Runtime;
using Candle.Runtime.Execution;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Compiler.Gpu;

/// <summary>
/// The GPU backend: the scheduler's kernel graph rendered for ILGPU (generated elementwise kernels from the kernel IR,
/// library kernels for rows, attention, rope, gathers and copies, cuBLAS or the tiled GEMM for matrix products,
/// products and lookups of Q8_0, Q4_0 and Q4_K weights on their stored blocks) and run
/// by a <see cref="GpuExecutable"/> on a <see cref="GpuDevice"/>. One backend per device kind; the device index comes
/// from <see cref="CompileOptions.Device"/> ("cuda:1") or is 0. Devices are opened once per process and shared by
/// every plan compiled for them, with their uploaded weights.
/// </summary>
public sealed class GpuBackend : IBackend
{
    private static readonly ConcurrentDictionary<string, Lazy<GpuDevice>> Devices = new(StringComparer.Ordinal);

    /// <summary>
    /// The ggml block types whose products and lookups run on the stored blocks (<see cref="Kernels.QuantKernels"/>);
    /// those of other types are decomposed into their float32 dequantization. Quantized products take no fused
    /// epilogue here (<see cref="Passes.FusedKinds.QuantMatMulEpilogue"/> is not among the fused kinds).
    /// </summary>
    internal static readonly IReadOnlySet<GgmlType> QuantTypes = new HashSet<GgmlType> { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K };

    private static readonly BackendCapabilities s_capabilities = new(
        Enum.GetValues<Op>().ToHashSet(),
        new HashSet<DType> { DType.F32, DType.F16, DType.BF16, DType.Bool, DType.I64, DType.I32 },
        VectorWidthBytes: 16,
        SharedMemoryBytes: 48 * 1024,
        SupportsFusedGroups: true)
    {
        FusedKinds = new HashSet<string> { Passes.FusedKinds.Elementwise, Passes.FusedKinds.MatMulEpilogue, Passes.FusedKinds.MultiOutput, Passes.FusedKinds.ReduceBroadcast },
        MergesProducts = true,
        QuantTypes = QuantTypes,
    };

    // Null when the kind's first device opens, else what is missing (the driver, the runtime library or a device).
    private readonly Lazy<string?> _unavailable;

    /// <summary>Creates the backend for a device kind.</summary>
    public GpuBackend(GpuKind kind)
    {
        Kind = kind;
        _unavailable = new Lazy<string?>(() =>
        {
            try
            {
                _ = GetDevice(DefaultSpec);
                return null;
            }
            catch (BackendUnavailableException e)
            {
                return e.Message;
            }
        });
    }

    /// <summary>The device kind.</summary>
    public GpuKind Kind { get; }

    /// <inheritdoc/>
    public string Name => Kind switch
    {
        GpuKind.Cuda => "cuda",
        GpuKind.OpenCL => "opencl",
        _ => "ilgpu-cpu",
    };

    /// <inheritdoc/>
    public BackendCapabilities Capabilities => s_capabilities;

    /// <inheritdoc/>
    public bool IsAvailable => _unavailable.Value is null;

    /// <inheritdoc/>
    public string? UnavailableReason => _unavailable.Value;

    private string DefaultSpec => Kind == GpuKind.Cpu ? "ilgpu-cpu" : Name + ":0";

    /// <summary>The process-wide device for a spec ("cuda", "cuda:1"), opened on first use.</summary>
    /// <exception cref="BackendUnavailableException">The driver, runtime library or device is missing.</exception>
    /// <exception cref="ArgumentException">The spec is malformed.</exception>
    public static GpuDevice GetDevice(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        string key = spec is "cuda" or "opencl" ? spec + ":0" : spec;
        var lazy = Devices.GetOrAdd(key, k => new Lazy<GpuDevice>(() => GpuDevice.Open(k)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Devices.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>Whether <c>CANDLE_GPU_COLUMN_SUMS=0</c> keeps sums over leading dims as a transposing copy and a row reduction (A/B runs).</summary>
    internal static bool ColumnSumsOff { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_COLUMN_SUMS") == "0";

    /// <summary>Whether <c>CANDLE_GPU_SLICE_FILLS=whole</c> fills a slice_scatter's whole constant base before the slice is copied in (A/B runs).</summary>
    internal static bool SliceFillsWhole { get; } = Environment.GetEnvironmentVariable("CANDLE_GPU_SLICE_FILLS") == "whole";

    /// <summary>Set to 0, a decode step's ropes and new cache rows stay separate rope and copy calls (A/B runs).</summary>
    internal const string RopeRowsVariable = "CANDLE_GPU_ROPE_ROWS";

    /// <summary>Whether ropes and row copies are merged into one call (<see cref="Scheduler.Schedule"/>'s ropeRows), read per compile.</summary>
    internal static bool RopeRows => Environment.GetEnvironmentVariable(RopeRowsVariable) != "0";

    /// <inheritdoc/>
    public IExecutable Lower(Graph optimizedGraph, CompileOptions options) => LowerExecutable(optimizedGraph, options);

    /// <summary>Lowers an optimized graph for the device of <paramref name="options"/> (or device 0 of this kind).</summary>
    /// <exception cref="BackendUnavailableException">The device is missing.</exception>
    /// <exception cref="NotSupportedException">A call has no GPU kernel (the message names it).</exception>
    public GpuExecutable LowerExecutable(Graph optimizedGraph, CompileOptions options)
    {
        ArgumentNullException.ThrowIfNull(optimizedGraph);
        ArgumentNullException.ThrowIfNull(options);
        string spec = options.Device ?? DefaultSpec;
        if (!spec.StartsWith(Name, StringComparison.Ordinal))
        {
            throw new ArgumentException($"the {Name} backend cannot run on device '{spec}'", nameof(options));
        }

        var device = GetDevice(spec);
        var graph = Scheduler.Schedule(optimizedGraph, stridedOperands: true, residualNorms: true, columnReductions: Kind != GpuKind.OpenCL && !ColumnSumsOff, fillsOutsideSlices: !SliceFillsWhole, ropeRows: RopeRows, broadcastReductions: true);
        var (type, names) = RenderKernels(graph, out var rowNames);
        return new GpuExecutable(graph, device, type, names, rowNames) { CaptureGraphs = options.CaptureGraphs == true && !GpuExecutable.GraphsOff };
    }

    /// <summary>Renders every generated kernel of a kernel graph (elementwise calls and GEMM epilogues) into one assembly.</summary>
    internal static (Type? Type, Dictionary<ElementwiseSpec, string> Names) RenderKernels(KernelGraph graph) => RenderKernels(graph, out _);

    /// <summary>
    /// Renders every generated kernel of a kernel graph into one assembly: elementwise calls and GEMM epilogues (named
    /// by spec in the result) and row reductions with a broadcast consumer (in <paramref name="rowNames"/>).
    /// </summary>
    internal static (Type? Type, Dictionary<ElementwiseSpec, string> Names) RenderKernels(KernelGraph graph, out Dictionary<BroadcastReductionSpec, string> rowNames)
    {
        var emitter = new ElementwiseKernelEmitter(ElementwiseLaunch.VectorUnroll());
        var names = new Dictionary<ElementwiseSpec, string>(ReferenceEqualityComparer.Instance);
        rowNames = new Dictionary<BroadcastReductionSpec, string>(ReferenceEqualityComparer.Instance);
        foreach (var call in graph.Calls)
        {
            switch (call)
            {
                case ElementwiseCall x:
                    names[x.Kernel] = emitter.GetOrAdd(x.Kernel);
                    break;
                case GemmCall { Epilogue: { } epi }:
                    names[epi.Kernel] = emitter.GetOrAdd(epi.Kernel);
                    break;
                case BroadcastReductionCall b:
                    rowNames[b.Kernel] = emitter.GetOrAdd(b.Kernel);
                    break;
            }
        }

        return (emitter.Build(), names);
    }
}
