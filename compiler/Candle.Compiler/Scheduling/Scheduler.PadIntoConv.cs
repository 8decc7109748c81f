using Candle.Compiler.Ir;
using Candle.Compiler.Passes;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Zero pads of the spatial dims read only as the input of convolutions (an exporter's asymmetric SAME padding):
    /// such a pad is not materialized. Each convolution reads the unpadded input with its padding before grown by the
    /// pad's, and the pad after is implicit: the convolution's output shape is kept, and every window position past the
    /// input's end reads zero, as it reads the padding before. A convolution fused with its epilogue counts as one.
    /// </summary>
    private readonly HashSet<Node> _padsIntoConv = new(ReferenceEqualityComparer.Instance);

    private void FindPadsIntoConvs(Graph graph)
    {
        var convUses = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            if (ConvOf(n) is not { } c || c.X.Op != Op.Pad || n.Inputs.Count(i => ReferenceEquals(i, c.X)) != 1) continue;
            var pad = c.X.Attr<PadAttrs>();
            int rank = c.X.Shape.Rank;
            bool spatialZeroPad = pad.Value == 0 && pad.Before.Count == rank && pad.After.Count == rank
                && pad.Before.All(b => b >= 0) && pad.After.All(b => b >= 0)
                && pad.Before[0] == 0 && pad.After[0] == 0 && pad.Before[1] == 0 && pad.After[1] == 0;
            if (spatialZeroPad) convUses[c.X] = convUses.GetValueOrDefault(c.X) + 1;
        }

        foreach (var (pad, uses) in convUses)
        {
            if (_uses.GetValueOrDefault(pad) == uses) _padsIntoConv.Add(pad);
        }
    }

    /// <summary>
    /// The convolution of a graph node (the node itself, or the convolution inside a conv_epilogue group) and the node
    /// its input comes from in the graph; null for other nodes.
    /// </summary>
    private static (Node Conv, Node X)? ConvOf(Node n)
    {
        if (n.Op == Op.Conv) return (n, n.Inputs[0]);
        if (n.Op != Op.Fused || n.Attr<FusedAttrs>().Kind != FusedKinds.ConvEpilogue) return null;
        var body = n.Attr<FusedAttrs>().Body;
        var conv = body.Nodes.FirstOrDefault(m => m.Op == Op.Conv);
        int at = conv is null ? -1 : body.Inputs.IndexOf(conv.Inputs[0]);
        return at < 0 ? null : (conv!, n.Inputs[at]);
    }

    /// <summary>
    /// The attributes a convolution is lowered with: its own, with the padding before of a pad it absorbs added
    /// (<paramref name="x"/>: the graph node its input comes from).
    /// </summary>
    private ConvAttrs ConvAttrsOf(Node conv, Node x)
    {
        var a = conv.Attr<ConvAttrs>();
        if (conv.Op != Op.Conv || !_padsIntoConv.Contains(x)) return a;
        var before = x.Attr<PadAttrs>().Before;
        return a with { Padding = new IntList(a.Padding.Select((p, d) => p + before[d + 2])) };
    }
}
