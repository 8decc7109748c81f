using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Backends.Source;

/// <summary>
/// A generated kernel for one elementwise op outside the float domain of <see cref="Scheduling.ElementwiseSpec"/>:
/// integer operands or results (casts between integers and floats, integer arithmetic, comparisons and
/// <c>where</c> over integers). It is computed in <c>float</c> when the result or an operand is a float type and in
/// 64-bit integers otherwise. Arguments: <c>shape[rank]</c>, then per input its offset and <c>strides[rank]</c> (in
/// elements), then the element count; the output is dense.
/// </summary>
internal sealed record MixedKernelSpec(Op Op, DType OutDType, IReadOnlyList<DType> Inputs, int Rank)
{
    /// <summary>Whether values are computed in <c>float</c> (else in 64-bit integers).</summary>
    public bool FloatDomain => IsFloat(OutDType) || Inputs.Any(IsFloat);

    /// <summary>A key that identifies equal kernels.</summary>
    public string Key => $"mixed {Op.Name()} r{Rank} {string.Join(",", Inputs.Select(i => i.TorchName()))}->{OutDType.TorchName()}";

    /// <summary>The number of arguments before the element count.</summary>
    public int ArgumentCount => Rank + (Inputs.Count * (1 + Rank));

    private static bool IsFloat(DType dt) => dt is DType.F32 or DType.F16 or DType.BF16;
}
