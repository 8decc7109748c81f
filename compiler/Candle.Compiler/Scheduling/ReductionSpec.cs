using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>Which axis of a generated reduction the vector lanes run along.</summary>
internal enum ReductionStrategy
{
    /// <summary>
    /// Along the innermost reduced axis: each output is one work item, vector accumulators over the reduced elements
    /// and a scalar tail, combined horizontally at the end of the row (reductions over the last axis).
    /// </summary>
    Rows,

    /// <summary>
    /// Along the innermost outer (kept) axis: each lane owns one output and accumulates over the whole reduced space,
    /// so no horizontal combine is needed (reductions over a leading or middle axis of a row-major tensor).
    /// </summary>
    Columns,
}

/// <summary>
/// A generated reduction (kernel IR): an index space of <paramref name="OuterRank"/> outer (parallel, kept) dims
/// followed by <paramref name="ReducedRank"/> reduced dims, both collapsed; inputs read with strides over that space
/// (zero strides broadcast); one linearized body whose op at <paramref name="ReduceAt"/> is the accumulator
/// (sum, mean — a sum scaled by 1/count —, max, min or prod, f32 accumulation from its identity) over the value of
/// the producer ops before it, evaluated at every point of the reduced space; the ops after it are the consumer,
/// evaluated once per output (their inputs have zero strides along the reduced dims). The last op is the result,
/// stored densely over the outer shape in <paramref name="OutDType"/>. Each input's access is along the axis the
/// vector lanes run (<paramref name="Strategy"/>). Kernel args are the elementwise kernels' over the whole space:
/// <c>outSlot, inSlot[n], shape[outer + reduced], then per input offset, strides[outer + reduced]</c>.
/// </summary>
internal sealed record ReductionSpec(
    IReadOnlyList<ElementwiseInput> Inputs, IReadOnlyList<BodyOp> Body, int ReduceAt, DType OutDType, int OuterRank, int ReducedRank, ReductionStrategy Strategy)
{
    /// <summary>
    /// The vector accumulators a row reduction keeps (each folds every fourth vector of a row while four fit, the
    /// first the rest; then 0 with 1, 2 with 3, 0 with 2, then lane by lane into the scalar tail's accumulator):
    /// the order every renderer of <see cref="ReductionStrategy.Rows"/> follows to compute the same bits.
    /// </summary>
    public const int RowAccumulators = 4;

    /// <summary>The rank of the whole index space (outer then reduced dims).</summary>
    public int Rank => OuterRank + ReducedRank;

    /// <summary>The accumulator op (sum, mean, max, min or prod).</summary>
    public Op Accumulator => Body[ReduceAt].Op;

    /// <summary>Whether a reduce node can be a generated reduction's accumulator.</summary>
    public static bool Supports(Node n) =>
        IsAccumulator(n.Op) && n.DType is DType.F32 or DType.F16 or DType.BF16 && n.Inputs[0].DType is DType.F32 or DType.F16 or DType.BF16;

    /// <summary>The reduce ops a generated reduction accumulates.</summary>
    public static bool IsAccumulator(Op op) => op is Op.Sum or Op.Mean or Op.Max or Op.Min or Op.Prod;

    /// <summary>The accumulator's starting value.</summary>
    public static float Identity(Op op) => op switch
    {
        Op.Sum or Op.Mean => 0f,
        Op.Prod => 1f,
        Op.Max => float.NegativeInfinity,
        Op.Min => float.PositiveInfinity,
        _ => throw new ArgumentException($"{op.Name()} is not an accumulator", nameof(op)),
    };

    /// <summary>The elementwise op that folds one value into the accumulator (the same definition every renderer uses).</summary>
    public static Op Combine(Op op) => op switch
    {
        Op.Sum or Op.Mean => Op.Add,
        Op.Prod => Op.Mul,
        Op.Max => Op.Maximum,
        Op.Min => Op.Minimum,
        _ => throw new ArgumentException($"{op.Name()} is not an accumulator", nameof(op)),
    };

    /// <summary>True for body op <paramref name="b"/> of the consumer (evaluated once per output).</summary>
    public bool IsConsumer(int b) => b > ReduceAt;

    /// <summary>A key that identifies equal kernels.</summary>
    public string Key
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append("red r").Append(Rank).Append(" q").Append(ReducedRank).Append(' ').Append(Strategy == ReductionStrategy.Rows ? "rows" : "columns");
            return ElementwiseSpec.AppendOperands(sb, OutDType, Inputs, Body).ToString();
        }
    }

    /// <summary>A short name hint such as <c>mul_sum</c>.</summary>
    public string Hint
    {
        get
        {
            var ops = Body.Where(o => o.Op is not (Op.Input or Op.Full)).Select(o => o.Op.Name()).ToList();
            int at = Body.Take(ReduceAt).Count(o => o.Op is not (Op.Input or Op.Full));
            return string.Join("_", ops.Skip(Math.Max(0, at - 1)).Take(3));
        }
    }
}
