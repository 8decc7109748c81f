using Candle.Compiler.Ir;
using Candle.Compiler.Passes;
using Candle.Runtime;

namespace Candle.Compiler.Scheduling;

internal sealed partial class Scheduler
{
    /// <summary>
    /// Float32 2-d convolutions, alone or as a conv_epilogue group relu(conv), read only by a 2-d max pool (directly or
    /// through a −∞ pad the pool absorbs): each with the pool it feeds (and that pad, or null), when the scheduler was
    /// asked for it. Such a convolution is one <see cref="ConvMaxPoolCall"/> scheduled at the convolution's place; the pool
    /// (and the pad), which read nothing else, are computed by it ahead of their turn, and the convolution's result is
    /// no buffer.
    /// </summary>
    private readonly Dictionary<Node, (Node Pool, Node? Pad)> _convsIntoPools = new(ReferenceEqualityComparer.Instance);

    private void FindConvsIntoPools(Graph graph)
    {
        if (!_convPools) return;
        foreach (var pool in graph.Nodes)
        {
            if (pool.Op != Op.MaxPool || pool.DType != DType.F32 || pool.Shape.Rank != 4) continue;
            var source = pool.Inputs[0];
            Node? pad = null;
            if (source.Op == Op.Pad && _padsIntoPool.Contains(source) && _uses.GetValueOrDefault(source) == 1)
            {
                pad = source;
                source = source.Inputs[0];
            }

            if (_uses.GetValueOrDefault(source) == 1 && PooledConv(source) is not null) _convsIntoPools[source] = (pool, pad);
        }
    }

    /// <summary>The float32 2-d convolution of <paramref name="n"/> and whether a ReLU follows it, for a plain convolution or a relu(conv) group; else null.</summary>
    private static (Node Conv, bool Relu)? PooledConv(Node n)
    {
        if (n.Op == Op.Conv) return n.DType == DType.F32 && n.Shape.Rank == 4 ? (n, false) : null;
        if (n.Op != Op.Fused || n.Attr<FusedAttrs>().Kind != FusedKinds.ConvEpilogue || n.DType != DType.F32) return null;
        var body = n.Attr<FusedAttrs>().Body;
        var result = body.Outputs[0];
        if (result.Op != Op.Relu || result.Inputs[0].Op != Op.Conv || body.Nodes.Count(m => m.Op is not Op.Input) != 2) return null;
        var conv = result.Inputs[0];
        return conv.DType == DType.F32 && conv.Shape.Rank == 4 && conv.Inputs.All(i => i.Op == Op.Input) ? (conv, true) : null;
    }

    /// <summary>
    /// Schedules convolution <paramref name="node"/> (a key of <see cref="_convsIntoPools"/>) with its max pool as one
    /// <see cref="ConvMaxPoolCall"/>; the pool's value (which stands for the pad's and the convolution's too, read by
    /// nothing else) is returned.
    /// </summary>
    private TensorView ScheduleConvMaxPool(Node node, TensorView[] ins)
    {
        var (pool, pad) = _convsIntoPools[node];
        var (conv, relu) = PooledConv(node)!.Value;
        var body = node.Op == Op.Fused ? node.Attr<FusedAttrs>().Body : null;
        TensorView Operand(int i) => body is null ? ins[i] : ins[body.Inputs.IndexOf(conv.Inputs[i])];
        Node Source(int i) => body is null ? node.Inputs[i] : node.Inputs[body.Inputs.IndexOf(conv.Inputs[i])];
        string label = relu ? "conv + relu + max_pool" : "conv + max_pool";
        var a = ConvAttrsOf(conv, Source(0));
        var x = Dense(Operand(0), label);
        var w = Dense(Operand(1), label);
        int bias = a.HasBias ? Dense(Operand(2), label).Slot : -1;
        var y = NewOutput(pool);
        _kg.Add(new ConvMaxPoolCall(x, w, bias, y.Slot, [.. conv.Shape], a, relu, PoolAttrsOf(pool), [.. pool.Shape], label));
        if (pad is not null) ScheduledAhead(pad, y);
        ScheduledAhead(pool, y);
        return y;
    }
}
