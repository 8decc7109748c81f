using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Kernels.Quant;

namespace Candle.Compiler.Backends;

/// <summary>What a backend can do, as data (after Inductor's BackendFeature).</summary>
/// <param name="Ops">Ops the backend lowers natively; others must be decomposed by a pass first.</param>
/// <param name="DTypes">Element types it stores.</param>
/// <param name="VectorWidthBytes">Preferred SIMD width in bytes (64 for AVX-512).</param>
/// <param name="SharedMemoryBytes">Per-block shared memory (0 on CPUs).</param>
/// <param name="SupportsFusedGroups">Whether <see cref="Op.Fused"/> nodes are compiled into single kernels.</param>
public sealed record BackendCapabilities(
    IReadOnlySet<Op> Ops,
    IReadOnlySet<DType> DTypes,
    int VectorWidthBytes,
    int SharedMemoryBytes,
    bool SupportsFusedGroups)
{
    /// <summary>
    /// True for a backend that runs graphs exactly as written (the reference interpreter, the oracle every other backend
    /// is compared with): the driver runs no optimization pass for it.
    /// </summary>
    public bool RunsGraphsAsWritten { get; init; }

    /// <summary>
    /// The <see cref="Passes.FusedKinds"/> the backend compiles into one kernel each; null for every kind. Fusion forms
    /// no group of another kind, so no group is formed only to be taken apart again by the lowering.
    /// </summary>
    public IReadOnlySet<string>? FusedKinds { get; init; }

    /// <summary>
    /// True for a backend where one launch costs more than splitting a product does (GPUs): products that share their
    /// left operand and have constant right operands are merged into one (<see cref="Passes.MatMulMerging"/>).
    /// </summary>
    public bool MergesProducts { get; init; }

    /// <summary>
    /// The ggml block types whose quantized products and lookups (<see cref="Op.QuantMatMul"/>,
    /// <see cref="Op.QuantEmbedding"/>, where <see cref="Ops"/> has them) the backend runs on the stored blocks; null
    /// for every type. A product or lookup of another type is decomposed into its exact float32 dequantization
    /// (<see cref="Passes.DecomposeComposites"/>).
    /// </summary>
    public IReadOnlySet<GgmlType>? QuantTypes { get; init; }

    /// <summary>True when <paramref name="node"/>, an op of <see cref="Ops"/>, is lowered natively: for a quantized product or lookup, its block type is one of <see cref="QuantTypes"/>.</summary>
    public bool Supports(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!Supports(node.Op)) return false;
        var weight = node.Op switch
        {
            Op.QuantMatMul => node.Inputs[1],
            Op.QuantEmbedding => node.Inputs[0],
            _ => null,
        };
        return weight is null || QuantTypes is null || weight.Op != Op.QuantConstant || QuantTypes.Contains(weight.Attr<QuantConstantAttrs>().Data.Type);
    }

    /// <summary>True when fused groups of <paramref name="kind"/> become one kernel on this backend.</summary>
    public bool Fuses(string kind) => SupportsFusedGroups && (FusedKinds is null || FusedKinds.Contains(kind));

    /// <summary>True when <paramref name="op"/> is lowered natively.</summary>
    public bool Supports(Op op) => Ops.Contains(op);
}
