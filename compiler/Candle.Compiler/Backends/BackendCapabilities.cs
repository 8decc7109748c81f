using Candle.Compiler.Ir;
using Candle.Runtime;

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

    /// <summary>True when <paramref name="op"/> is lowered natively.</summary>
    public bool Supports(Op op) => Ops.Contains(op);
}
