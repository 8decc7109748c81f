using System.Globalization;
using System.Text;
using Candle.Compiler.Ir;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

/// <summary>
/// A generated row reduction with a broadcast consumer (kernel IR): an index space of <paramref name="OuterRank"/>
/// outer (parallel) dims followed by <paramref name="ReducedRank"/> reduced dims, both collapsed; inputs read with
/// strides over the whole space (zero strides broadcast); one linearized body holding one or more accumulator ops
/// (sum, mean, max, min, prod over the reduced space, f32 from their identity, as in <see cref="ReductionSpec"/>) whose
/// results later ops read as values of the row, broadcast over the reduced dims. The last op is the result, evaluated
/// at every point of the space and stored densely over it in <paramref name="OutDType"/> (norms and softmax written
/// from primitives: <c>x * rsqrt(mean(x²) + eps) * w</c>, <c>exp(x - max(x)) / sum(…)</c>). Vector lanes run along the
/// innermost reduced dim; each input's access is along that dim. A kernel computes one row per work item: one pass
/// over the row per <see cref="Level"/> of accumulators (each accumulator folded as a row reduction folds, see
/// <see cref="ReductionSpec.RowAccumulators"/>), the row values after each pass, then a last pass writing the output.
/// Kernel args are the elementwise kernels' over the whole space:
/// <c>outSlot, inSlot[n], shape[outer + reduced], then per input offset, strides[outer + reduced]</c>.
/// </summary>
internal sealed record BroadcastReductionSpec(IReadOnlyList<ElementwiseInput> Inputs, IReadOnlyList<BodyOp> Body, DType OutDType, int OuterRank, int ReducedRank)
{
    /// <summary>The rank of the whole index space (outer then reduced dims).</summary>
    public int Rank => OuterRank + ReducedRank;

    /// <summary>The body indices of the accumulator ops, in body order.</summary>
    public IReadOnlyList<int> Accumulators => [.. Enumerable.Range(0, Body.Count).Where(b => ReductionSpec.IsAccumulator(Body[b].Op))];

    /// <summary>The number of passes over a row that compute accumulators (the last pass, which writes, not counted).</summary>
    public int ReductionPasses => Accumulators.Max(Level) + 1;

    /// <summary>
    /// True for a body op whose value is one per row (constants, inputs broadcast along the whole reduced space,
    /// accumulators and ops of those only): computed once per row, after the pass of the last accumulator it reads.
    /// </summary>
    public bool IsRowValue(int b) => RowValues()[b];

    /// <summary>
    /// For an accumulator, the pass that computes it (0 for one that reads no other accumulator, else one more than
    /// the deepest it reads); for another op, the pass after which it can be computed (-1: before the first).
    /// </summary>
    public int Level(int b) => Depths()[b];

    /// <summary>
    /// The ops of the row (not row values) that pass <paramref name="pass"/> evaluates at each element, in body order:
    /// those the accumulators of that level read (<paramref name="pass"/> = <see cref="ReductionPasses"/>: those the
    /// result reads; with <paramref name="stashed"/>, those it reads besides the <see cref="Stash"/> op's own inputs).
    /// </summary>
    public IReadOnlyList<int> ElementOps(int pass, bool stashed = false)
    {
        var roots = pass == ReductionPasses
            ? [Body.Count - 1]
            : Accumulators.Where(a => Level(a) == pass).Select(a => Body[a].Args[0]);
        int stop = stashed && pass == ReductionPasses ? Stash : -1;
        var need = Closure(roots, stop);
        return [.. Enumerable.Range(0, Body.Count).Where(b => need[b])];
    }

    /// <summary>
    /// An element op that the last reduction pass computes and the last pass reads again, worth keeping in the output
    /// row between them (-1: none): the one whose own element ops are most (at least two, such as exp(x - max)),
    /// of the output's dtype, so that storing it there and loading it back gives the same bits as computing it again.
    /// A renderer may store it in the last reduction pass and load it in the last pass instead of recomputing it.
    /// </summary>
    public int Stash
    {
        get
        {
            var last = ElementOps(ReductionPasses - 1).ToHashSet();
            int best = -1, bestCost = 1;
            foreach (int b in ElementOps(ReductionPasses))
            {
                if (!last.Contains(b) || b == Body.Count - 1 || Body[b].DType != OutDType || Body[b].Op is Op.Input or Op.Full) continue;
                var closure = Closure([b], -1);
                int cost = Enumerable.Range(0, Body.Count).Count(o => closure[o] && Body[o].Op is not (Op.Input or Op.Full));
                if (cost > bestCost)
                {
                    best = b;
                    bestCost = cost;
                }
            }

            return best;
        }
    }

    // The element ops (not row values) the roots read, the roots included; `stop`'s inputs are not followed.
    private bool[] Closure(IEnumerable<int> roots, int stop)
    {
        var need = new bool[Body.Count];
        var stack = new Stack<int>(roots);
        while (stack.Count > 0)
        {
            int b = stack.Pop();
            if (need[b] || IsRowValue(b)) continue;
            need[b] = true;
            if (b == stop) continue;
            foreach (int a in Body[b].Args) stack.Push(a);
        }

        return need;
    }

    /// <summary>The row values computed after pass <paramref name="pass"/> (-1: before the first pass), accumulators excluded, in body order.</summary>
    public IReadOnlyList<int> RowOps(int pass) =>
        [.. Enumerable.Range(0, Body.Count).Where(b => IsRowValue(b) && !ReductionSpec.IsAccumulator(Body[b].Op) && Level(b) == pass)];

    private bool[] RowValues()
    {
        var row = new bool[Body.Count];
        for (int b = 0; b < Body.Count; b++)
        {
            var op = Body[b];
            row[b] = op.Op switch
            {
                Op.Full => true,
                Op.Input => ReducedRank == 1 && Inputs[op.Input].Access == InnerAccess.Broadcast,
                _ when ReductionSpec.IsAccumulator(op.Op) => true,
                _ => op.Args.All(a => row[a]),
            };
        }

        return row;
    }

    private int[] Depths()
    {
        var depth = new int[Body.Count];
        for (int b = 0; b < Body.Count; b++)
        {
            int deepest = Body[b].Args.Select(a => depth[a]).DefaultIfEmpty(-1).Max();
            depth[b] = ReductionSpec.IsAccumulator(Body[b].Op) ? deepest + 1 : deepest;
        }

        return depth;
    }

    /// <summary>A key that identifies equal kernels.</summary>
    public string Key
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append("bred r").Append(Rank).Append(" q").Append(ReducedRank);
            return ElementwiseSpec.AppendOperands(sb, OutDType, Inputs, Body).ToString();
        }
    }

    /// <summary>A short name hint such as <c>max_exp_sum</c>: the accumulators and the ops next to them.</summary>
    public string Hint
    {
        get
        {
            var ops = Body.Where(o => o.Op is not (Op.Input or Op.Full)).Select(o => o.Op.Name()).ToList();
            var accs = Body.Where(o => ReductionSpec.IsAccumulator(o.Op)).Select(o => o.Op.Name()).ToList();
            return "bc_" + string.Join("_", accs.Concat(ops.Where(o => !accs.Contains(o))).Take(3));
        }
    }
}
