using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Passes;

/// <summary>
/// Lowers composite ops to primitives with the reference interpreter's semantics, for backends that lack them:
/// softmax and log-softmax (stable), layer norm (biased variance), RMS norm, group norm, rotary embedding (both
/// layouts), attention (grouped-query heads, bottom-right causal mask, bool or additive mask), and the
/// activations gelu, gelu_tanh and silu, and products and lookups of quantized constants (as float32 constants holding
/// their exact dequantization, for backends without quantized kernels). Convolution, pooling and upsampling are left
/// as they are. Which ops are
/// lowered: the set given to the constructor, or else those the context's <see cref="PassContext.Capabilities"/>
/// do not support (none when the target is unknown), quantized products and lookups also when the target has no
/// kernels for their block type (<see cref="Backends.BackendCapabilities.QuantTypes"/>).
/// </summary>
public sealed class DecomposeComposites : Pass
{
    private static readonly Op[] Decomposable =
        [Op.Softmax, Op.LogSoftmax, Op.LayerNorm, Op.RmsNorm, Op.GroupNorm, Op.Rope, Op.Attention, Op.Gelu, Op.GeluTanh, Op.Silu, Op.QuantMatMul, Op.QuantEmbedding];

    private readonly IReadOnlySet<Op>? _ops;

    /// <summary>Lowers the ops the target lacks.</summary>
    public DecomposeComposites()
    {
    }

    /// <summary>Lowers exactly <paramref name="ops"/> (those of them this pass knows).</summary>
    public DecomposeComposites(IEnumerable<Op> ops) => _ops = new HashSet<Op>(ops ?? throw new ArgumentNullException(nameof(ops)));

    /// <summary>Every op this pass can lower.</summary>
    public static IReadOnlyList<Op> Supported => Decomposable;

    /// <inheritdoc/>
    public override PassInfo Info { get; } = new("decompose-composites", 0);

    /// <inheritdoc/>
    public override Graph Run(Graph graph, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (_ops is null && context?.Capabilities is { } caps)
        {
            // Ops the target has, except quantized products and lookups of block types it has no kernels for.
            if (caps.QuantTypes is null && Decomposable.All(caps.Supports)) return graph;
            return graph.Rewrite(n => Decomposable.Contains(n.Op) && !caps.Supports(n) ? Lower(n) : null);
        }

        var ops = _ops;
        if (ops is null || ops.Count == 0) return graph;
        return graph.Rewrite(n => ops.Contains(n.Op) ? Lower(n) : null);
    }

    /// <summary>The primitive form of <paramref name="n"/>, or null when this pass does not lower its op.</summary>
    public static Node? Lower(Node n)
    {
        ArgumentNullException.ThrowIfNull(n);
        return n.Op switch
        {
            Op.Softmax or Op.LogSoftmax => Softmax(n.Inputs[0], n.Attr<AxisAttrs>().Axis, n.Op == Op.LogSoftmax),
            Op.LayerNorm => LayerNormOf(n),
            Op.RmsNorm => RmsNormOf(n),
            Op.GroupNorm => GroupNormOf(n),
            Op.Rope => RopeOf(n),
            Op.Attention => AttentionOf(n),
            Op.Gelu => GeluOf(n.Inputs[0]),
            Op.GeluTanh => GeluTanhOf(n.Inputs[0]),
            Op.Silu => Binary(Op.Mul, n.Inputs[0], Unary(Op.Sigmoid, n.Inputs[0])),
            Op.QuantMatMul => MatMul(n.Inputs[0], Transpose(Dequantized(n.Inputs[1]), 0, 1)),
            Op.QuantEmbedding => Reshape(IndexSelect(Dequantized(n.Inputs[0]), 0, Reshape(n.Inputs[1], -1)), n.Shape),
            _ => null,
        };
    }

    /// <summary>The exact float32 dequantization of a quantized constant, as a constant.</summary>
    private static Node Dequantized(Node w)
    {
        var q = w.Attr<QuantConstantAttrs>().Data;
        return Constant(q.Dequantize(), q.Name);
    }

    private static Node Softmax(Node x, int axis, bool log)
    {
        var shifted = Binary(Op.Sub, x, Reduce(Op.Max, x, [axis], keepDim: true));
        var e = Unary(Op.Exp, shifted);
        var sum = Reduce(Op.Sum, e, [axis], keepDim: true);
        return log ? Binary(Op.Sub, shifted, Unary(Op.Log, sum)) : Binary(Op.Div, e, sum);
    }

    private static Node Normalize(Node x, int[] axes, double eps, bool center)
    {
        var xc = center ? Binary(Op.Sub, x, Reduce(Op.Mean, x, axes, keepDim: true)) : x;
        var variance = Reduce(Op.Mean, Binary(Op.Mul, xc, xc), axes, keepDim: true);
        return Binary(Op.Mul, xc, Unary(Op.Rsqrt, Binary(Op.Add, variance, eps)));
    }

    private static Node Affine(Node y, NormAttrs a, IReadOnlyList<Node> inputs, Func<Node, Node>? shape = null)
    {
        int i = 1;
        if (a.HasWeight) y = Binary(Op.Mul, y, shape is null ? inputs[i] : shape(inputs[i]));
        if (a.HasWeight) i++;
        if (a.HasBias) y = Binary(Op.Add, y, shape is null ? inputs[i] : shape(inputs[i]));
        return y;
    }

    private static Node LayerNormOf(Node n)
    {
        var a = n.Attr<NormAttrs>();
        var x = n.Inputs[0];
        int r = x.Shape.Rank;
        return Affine(Normalize(x, [.. Enumerable.Range(r - a.NormalizedDims, a.NormalizedDims)], a.Eps, center: true), a, n.Inputs);
    }

    private static Node RmsNormOf(Node n)
    {
        var a = n.Attr<NormAttrs>();
        var x = n.Inputs[0];
        return Affine(Normalize(x, [x.Shape.Rank - 1], a.Eps, center: false), a, n.Inputs);
    }

    private static Node GroupNormOf(Node n)
    {
        var a = n.Attr<NormAttrs>();
        var x = n.Inputs[0];
        var s = x.Shape;
        var grouped = Reshape(x, new Shape(s[0], a.Groups, s.Skip(1).Aggregate(Dim.One, (p, d) => p * d) / a.Groups));
        var y = Reshape(Normalize(grouped, [2], a.Eps, center: true), s);
        var paramShape = new Shape(new[] { s[1] }.Concat(Enumerable.Repeat(Dim.One, s.Rank - 2)));
        return Affine(y, a, n.Inputs, p => Reshape(p, paramShape));
    }

    private static Node RopeOf(Node n)
    {
        var (x, cos, sin) = (n.Inputs[0], n.Inputs[1], n.Inputs[2]);
        int last = x.Shape.Rank - 1;
        var d = x.Shape[^1];
        if (!n.Attr<RopeAttrs>().Interleaved)
        {
            var x1 = Narrow(x, last, Dim.Zero, d / 2);
            var x2 = Narrow(x, last, d / 2, d / 2);
            var y1 = Binary(Op.Sub, Binary(Op.Mul, x1, cos), Binary(Op.Mul, x2, sin));
            var y2 = Binary(Op.Add, Binary(Op.Mul, x2, cos), Binary(Op.Mul, x1, sin));
            return Concat([y1, y2], last);
        }

        var xe = Node.Create(Op.Slice, new SliceAttrs(last, Dim.Zero, d, 2), x);
        var xo = Node.Create(Op.Slice, new SliceAttrs(last, Dim.One, d, 2), x);
        var ye = Binary(Op.Sub, Binary(Op.Mul, xe, cos), Binary(Op.Mul, xo, sin));
        var yo = Binary(Op.Add, Binary(Op.Mul, xo, cos), Binary(Op.Mul, xe, sin));
        return Reshape(Stack([ye, yo], -1), x.Shape);
    }

    private static Node AttentionOf(Node n)
    {
        var a = n.Attr<AttentionAttrs>();
        var (q, k, v) = (n.Inputs[0], n.Inputs[1], n.Inputs[2]);
        var (b, h, sq) = (q.Shape[0], q.Shape[1], q.Shape[2]);
        var (hkv, sk) = (k.Shape[1], k.Shape[2]);
        if (h != hkv)
        {
            k = RepeatHeads(k, h, hkv);
            v = RepeatHeads(v, h, hkv);
        }

        var scores = Binary(Op.Mul, MatMul(q, Transpose(k, -2, -1)), a.Scale);
        if (a.Causal)
        {
            // Key j is hidden from query i when j > i + (Sk - Sq), i.e. when (Sk-1-j) < (Sq-1-i).
            var ri = Reshape(Flip(Arange(sq), 0), new Shape(sq, Dim.One));
            var rj = Reshape(Flip(Arange(sk), 0), new Shape(Dim.One, sk));
            scores = Where(Binary(Op.Lt, rj, ri), Scalar(double.NegativeInfinity, scores.DType), scores);
        }

        if (a.HasMask)
        {
            var m = n.Inputs[3];
            scores = m.DType == DType.Bool ? Where(m, scores, Scalar(double.NegativeInfinity, scores.DType)) : Binary(Op.Add, scores, m);
        }

        return MatMul(Softmax(scores, 3, log: false), v);
    }

    private static Node RepeatHeads(Node t, Dim heads, Dim kvHeads)
    {
        var s = t.Shape;
        long group = (heads.TryGetConstant() ?? throw IrException.For(Op.Attention, [t], "grouped-query heads must be constant")) /
            (kvHeads.TryGetConstant() ?? throw IrException.For(Op.Attention, [t], "grouped-query heads must be constant"));
        var five = Reshape(t, new Shape(s[0], s[1], Dim.One, s[2], s[3]));
        var expanded = Expand(five, new Shape(s[0], s[1], group, s[2], s[3]));
        return Reshape(expanded, new Shape(s[0], heads, s[2], s[3]));
    }

    private static Node GeluOf(Node x) =>
        Binary(Op.Mul, Binary(Op.Mul, x, 0.5), Binary(Op.Add, Unary(Op.Erf, Binary(Op.Mul, x, 1 / Math.Sqrt(2))), 1.0));

    private static Node GeluTanhOf(Node x)
    {
        var cube = Binary(Op.Mul, Binary(Op.Mul, x, x), x);
        var inner = Binary(Op.Mul, Binary(Op.Add, x, Binary(Op.Mul, cube, 0.044715)), Math.Sqrt(2 / Math.PI));
        return Binary(Op.Mul, Binary(Op.Mul, x, 0.5), Binary(Op.Add, Unary(Op.Tanh, inner), 1.0));
    }
}
