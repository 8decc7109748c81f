using Candle.Compiler.Ir;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Zero pads of the spatial dims read only as the input of convolutions (an exporter's asymmetric SAME padding):
    /// such a pad is not materialized. Each convolution reads the unpadded input with its padding before grown by the
    /// pad's, and the pad after is implicit: the convolution's output shape is kept, and every window position past the
    /// input's end reads zero, as it reads the padding before.
    /// </summary>
    private readonly HashSet<Node> _padsIntoConv = new(ReferenceEqualityComparer.Instance);

    private void FindPadsIntoConvs(Graph graph)
    {
        var convUses = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in graph.Nodes)
        {
            if (n.Op != Op.Conv || n.Inputs[0].Op != Op.Pad || n.Inputs.Skip(1).Contains(n.Inputs[0])) continue;
            var pad = n.Inputs[0].Attr<PadAttrs>();
            int rank = n.Inputs[0].Shape.Rank;
            bool spatialZeroPad = pad.Value == 0 && pad.Before.Count == rank && pad.After.Count == rank
                && pad.Before.All(b => b >= 0) && pad.After.All(b => b >= 0)
                && pad.Before[0] == 0 && pad.After[0] == 0 && pad.Before[1] == 0 && pad.After[1] == 0;
            if (spatialZeroPad) convUses[n.Inputs[0]] = convUses.GetValueOrDefault(n.Inputs[0]) + 1;
        }

        foreach (var (pad, uses) in convUses)
        {
            if (_uses.GetValueOrDefault(pad) == uses) _padsIntoConv.Add(pad);
        }
    }

    /// <summary>The attributes a convolution is lowered with: its own, with the padding before of a pad it absorbs added.</summary>
    private ConvAttrs ConvAttrsOf(Node conv)
    {
        var a = conv.Attr<ConvAttrs>();
        if (conv.Op != Op.Conv || !_padsIntoConv.Contains(conv.Inputs[0])) return a;
        var before = conv.Inputs[0].Attr<PadAttrs>().Before;
        return a with { Padding = new IntList(a.Padding.Select((p, d) => p + before[d + 2])) };
    }
}
