using System.Collections.Immutable;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Passes;

/// <summary>
/// Folds a per-output-channel affine map applied to a convolution with constant weights into those weights and the
/// bias at compile time: <c>conv(x, W, b) · s</c>, <c>/ s</c>, <c>+ a</c>, <c>− a</c> and <c>a − conv(x, W, b)</c>, with
/// <c>s</c> and <c>a</c> computed from constants only and constant along every dim but the channels (a scalar, or
/// [C, 1, …] broadcast, however written), become one convolution with <c>W'[c] = W[c] · s[c]</c> and
/// <c>b'[c] = b[c] · s[c]</c> (or the sum, difference, negation). An inference batch normalization after a convolution
/// — <c>(conv − mean) · rsqrt(var + eps) · gamma + beta</c> — leaves the convolution alone. It folds only where the
/// convolution is read by that op alone (and is no graph output); one sweep folds every such op of every chain (a
/// node rebuilt in the sweep is judged by the readers of the node it replaces), repeated to a fixed point; the new
/// weights are named constants (<c>{weight}.folded</c>). Float dtypes only.
/// </summary>
public sealed class ConvAffineFolding : Pass
{
    private const int MaxSweeps = 32;

    // The constant operand is evaluated at compile time: no larger than this.
    private const long MaxOperandElements = 1 << 16;

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("conv-affine-folding", 2);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        for (int sweep = 0; sweep < MaxSweeps; sweep++)
        {
            var next = Sweep(graph);
            if (ReferenceEquals(next, graph)) return graph;
            graph = next;
        }

        return graph;
    }

    // One pass over the nodes in order. A node rebuilt because an input above it changed (or a convolution that
    // replaced a folded op) stands for the node of the swept graph it came from, whose readers it has: so the ops of a
    // chain after one convolution fold in the same sweep, and convolutions below a folded one still fold.
    private static Graph Sweep(Graph graph)
    {
        var users = graph.Users;
        var outputs = new HashSet<Node>(graph.Outputs, ReferenceEqualityComparer.Instance);
        var map = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        var origin = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        bool changed = false;
        foreach (var n in graph.Nodes)
        {
            var ins = n.Inputs.Select(i => map[i]).ToImmutableArray();
            var rebuilt = n.WithInputs(ins);
            var result = Fold(rebuilt, c => origin.GetValueOrDefault(c, c), users, outputs) ?? rebuilt;
            changed |= !ReferenceEquals(result, n);
            map[n] = result;
            origin[result] = n;
        }

        return changed ? new Graph(graph.Inputs.Select(i => map[i]), graph.Outputs.Select(o => map[o]), graph.OutputNames) : graph;
    }

    private static Node? Fold(Node n, Func<Node, Node> original, IReadOnlyDictionary<Node, IReadOnlyList<Node>> users, HashSet<Node> outputs)
    {
        if (n.Op is not (Op.Add or Op.Sub or Op.Mul or Op.Div) || !n.DType.IsFloat()) return null;
        for (int side = 0; side < 2; side++)
        {
            var conv = n.Inputs[side];
            if (conv.Op != Op.Conv || conv.DType != n.DType || !conv.Shape.Equals(n.Shape) || ReferenceEquals(n.Inputs[0], n.Inputs[1])) continue;
            var before = original(conv);
            bool foldable = users.TryGetValue(before, out var readers) && readers.Count == 1 && !outputs.Contains(before)
                && (n.Op != Op.Div || side == 0);
            var attrs = conv.Attr<ConvAttrs>();
            var w = conv.Inputs[1];
            var b = attrs.HasBias ? conv.Inputs[2] : null;
            if (!foldable || w.Op != Op.Constant || (b is not null && b.Op != Op.Constant) || !w.Shape.IsStatic) continue;
            int cout = (int)w.Shape[0].TryGetConstant()!.Value;
            if (ChannelValues(n.Inputs[1 - side], conv.Shape.Rank, cout) is not { } v) continue;

            var weight = w.Attr<ConstantAttrs>().Data;
            double[] bias = b is null ? new double[cout] : ToDoubles(b.Attr<ConstantAttrs>().Data);
            double[] scale = new double[cout];
            double[] shift = new double[cout];
            for (int c = 0; c < cout; c++)
            {
                (scale[c], shift[c]) = (n.Op, side) switch
                {
                    (Op.Mul, _) => (v[c], bias[c] * v[c]),
                    (Op.Div, _) => (1 / v[c], bias[c] / v[c]),
                    (Op.Add, _) => (1, bias[c] + v[c]),
                    (Op.Sub, 0) => (1, bias[c] - v[c]),
                    _ => (-1, v[c] - bias[c]),
                };
            }

            string name = (w.Attr<ConstantAttrs>().Name ?? "conv").Replace(".folded", "", StringComparison.Ordinal);
            var newWeight = scale.All(f => f == 1) ? w : IrBuilder.Constant(Scaled(weight, n.Op == Op.Div ? v : scale, n.Op == Op.Div), name + ".folded");
            var newBias = IrBuilder.Constant(FromDoubles(shift, n.DType), name + ".bias.folded");
            return Node.Create(Op.Conv, attrs with { HasBias = true }, conv.Inputs[0], newWeight, newBias);
        }

        return null;
    }

    /// <summary>
    /// The per-channel values of an operand computed from constants alone, broadcast along every dim but the channels
    /// (dim 1 of a result of rank <paramref name="rank"/>), written as a broadcast or as a dense constant whose values
    /// are equal along those dims (constant folding writes small broadcasts out); null when it is not such an operand.
    /// </summary>
    private static double[]? ChannelValues(Node operand, int rank, int cout)
    {
        var e = operand;
        while (e.Op == Op.Expand) e = e.Inputs[0];
        if (e.Op == Op.Full) return [.. Enumerable.Repeat(e.Attr<FullAttrs>().Value, cout)];
        if (!e.Shape.IsStatic || e.Shape.Rank > rank || e.Shape.Numel.TryGetConstant() is not long numel || numel > MaxOperandElements) return null;
        var graph = new Graph([], [e]);
        if (graph.Nodes.Any(m => m.Op == Op.Input || (m.Inputs.Length == 0 && !Rewrite.NodeFacts.IsConstantLeaf(m)))) return null;
        int offset = rank - e.Shape.Rank;
        int channelAt = 1 - offset;
        long[] dims = [.. Enumerable.Range(0, e.Shape.Rank).Select(i => e.Shape[i].TryGetConstant()!.Value)];
        // Without a channel dim of the channels' count, the operand must hold one value throughout.
        bool perChannel = channelAt >= 0 && channelAt < dims.Length && dims[channelAt] == cout && cout != 1;

        // Elements of channel c lie at (… c …) · inner: inner is the product of the dims after the channel's.
        long inner = 1;
        for (int i = Math.Max(channelAt + 1, 0); i < dims.Length; i++) inner *= dims[i];
        var t = ReferenceInterpreter.Evaluate(e);
        var values = new double[cout];
        bool[] seen = new bool[cout];
        for (long i = 0; i < t.ElementCount; i++)
        {
            int c = perChannel ? (int)(i / inner % cout) : -1;
            double v = t.GetDouble(i);
            if (c < 0)
            {
                if (i > 0 && !v.Equals(values[0])) return null;
                Array.Fill(values, v);
                continue;
            }

            if (seen[c] && !v.Equals(values[c])) return null;
            values[c] = v;
            seen[c] = true;
        }

        return values;
    }

    private static double[] ToDoubles(HostTensor t)
    {
        var d = new double[t.ElementCount];
        for (long i = 0; i < d.Length; i++) d[i] = t.GetDouble(i);
        return d;
    }

    private static HostTensor FromDoubles(double[] values, DType dtype)
    {
        var t = HostTensor.Zeros(dtype, [values.Length]);
        for (int i = 0; i < values.Length; i++) t.SetDouble(i, values[i]);
        return t;
    }

    // W[c, ...] times (or divided by) the channel's factor, in double, rounded once to W's dtype.
    private static HostTensor Scaled(HostTensor weight, double[] factor, bool divide)
    {
        int[] shape = [.. weight.Shape.Select(d => (int)d)];
        long perChannel = weight.ElementCount / factor.Length;
        if (weight.DType == DType.F32)
        {
            var w = weight.ToFloat32();
            for (long i = 0; i < w.Length; i++)
            {
                double f = factor[i / perChannel];
                w[i] = (float)(divide ? w[i] / f : w[i] * f);
            }

            return HostTensor.FromArray(w, shape);
        }

        var t = HostTensor.Zeros(weight.DType, shape);
        for (long i = 0; i < weight.ElementCount; i++)
        {
            double f = factor[i / perChannel];
            t.SetDouble(i, divide ? weight.GetDouble(i) / f : weight.GetDouble(i) * f);
        }

        return t;
    }
}
