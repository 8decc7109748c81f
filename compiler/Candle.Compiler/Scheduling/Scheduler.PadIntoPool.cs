using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// −∞ pads of the spatial dims read only as the input of max pools (an exporter's asymmetric SAME padding before a
    /// max pool): such a pad is not materialized. Each pool reads the unpadded input with its padding before grown by the
    /// pad's, and the pad after is implicit (the pool's output shape is kept): the pool skips window positions outside
    /// its input at both ends, and skipping a −∞ leaves the maximum (or a window's −∞ when it is all padding) as it was.
    /// </summary>
    private readonly HashSet<Node> _padsIntoPool = new(ReferenceEqualityComparer.Instance);

    private void FindPadsIntoPools(Graph graph)
    {
        var poolUses = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            if (n.Op != Op.MaxPool || n.Inputs[0].Op != Op.Pad) continue;
            var pad = n.Inputs[0].Attr<PadAttrs>();
            int rank = n.Inputs[0].Shape.Rank;
            bool spatialPad = double.IsNegativeInfinity(pad.Value) && pad.Before.Count == rank && pad.After.Count == rank
                && pad.Before.All(b => b >= 0) && pad.After.All(b => b >= 0)
                && pad.Before[0] == 0 && pad.After[0] == 0 && pad.Before[1] == 0 && pad.After[1] == 0;
            if (spatialPad) poolUses[n.Inputs[0]] = poolUses.GetValueOrDefault(n.Inputs[0]) + 1;
        }

        foreach (var (pad, uses) in poolUses)
        {
            if (_uses.GetValueOrDefault(pad) == uses) _padsIntoPool.Add(pad);
        }
    }

    /// <summary>The attributes a pool is lowered with: its own, with the padding before of a pad it absorbs added.</summary>
    private PoolAttrs PoolAttrsOf(Node pool)
    {
        var a = pool.Attr<PoolAttrs>();
        if (!_padsIntoPool.Contains(pool.Inputs[0])) return a;
        var before = pool.Inputs[0].Attr<PadAttrs>().Before;
        return a with { Padding = new IntList(a.Padding.Select((p, d) => p + before[d + 2])) };
    }
}
