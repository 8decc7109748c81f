using Candle.Compiler.Ir;
using Candle.Compiler.Rewrite;
using static Candle.Compiler.Rewrite.NodeFacts;

namespace Candle.Compiler.Passes;

/// <summary>
/// Recognizers of composite ops in their primitive form, as PyTorch-style model code traces them. Each takes
/// a match of its root and returns the composite node, or null. Used by <see cref="PatternRecognition"/>.
/// </summary>
public static class CompositePatterns
{
    private static readonly double InvSqrt2 = 1 / Math.Sqrt(2);
    private static readonly double SqrtTwoOverPi = Math.Sqrt(2 / Math.PI);

    /// <summary>0.5·x·(1 + erf(x/√2)) → gelu(x), in any association and operand order.</summary>
    public static Node? Gelu(Match m)
    {
        var root = m.Root;
        if (!IsFloat(root)) return null;
        var (coef, f) = ProductTerms(root);
        if (f.Count != 2 || Math.Abs(coef - 0.5) > 1e-6) return null;
        for (int t = 0; t < 2; t++)
        {
            var x = f[1 - t];
            if (OnePlus(f[t], Op.Erf) is not { } arg) continue;
            var (c, af) = ProductTerms(arg);
            if (af.Count == 1 && ReferenceEquals(af[0], x) && Math.Abs(c - InvSqrt2) <= 1e-6) return Node.Create(Op.Gelu, null, x);
        }

        return null;
    }

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) → gelu_tanh(x), with x³ as pow(x, 3) or x·x·x.</summary>
    public static Node? GeluTanh(Match m)
    {
        var root = m.Root;
        if (!IsFloat(root)) return null;
        var (coef, f) = ProductTerms(root);
        if (f.Count != 2 || Math.Abs(coef - 0.5) > 1e-6) return null;
        for (int t = 0; t < 2; t++)
        {
            var x = f[1 - t];
            if (OnePlus(f[t], Op.Tanh) is not { } arg) continue;
            var (c, af) = ProductTerms(arg);
            if (af.Count != 1 || Math.Abs(c - SqrtTwoOverPi) > 1e-6 || af[0].Op != Op.Add) continue;
            var inner = af[0];
            for (int s = 0; s < 2; s++)
            {
                if (!ReferenceEquals(inner.Inputs[s], x)) continue;
                var (k, cube) = ProductTerms(inner.Inputs[1 - s]);
                bool isCube = (cube.Count == 3 && cube.All(n => ReferenceEquals(n, x))) ||
                    (cube.Count == 1 && cube[0].Op == Op.Pow && ReferenceEquals(cube[0].Inputs[0], x) && IsUniform(cube[0].Inputs[1], 3)) ||
                    (cube.Count == 2 && cube.Count(n => ReferenceEquals(n, x)) == 1 && cube.Any(n => IsSquareOf(n, out var y) && ReferenceEquals(y, x)));
                if (isCube && Math.Abs(k - 0.044715) <= 1e-6) return Node.Create(Op.GeluTanh, null, x);
            }
        }

        return null;
    }

    /// <summary>1 / (1 + exp(−x)) → sigmoid(x) (as a division or a reciprocal).</summary>
    public static Node? Sigmoid(Match m)
    {
        var root = m.Root;
        if (!IsFloat(root)) return null;
        Node den;
        if (root.Op == Op.Div && IsUniform(root.Inputs[0], 1)) den = root.Inputs[1];
        else if (root.Op == Op.Reciprocal) den = root.Inputs[0];
        else return null;
        return OnePlus(den, Op.Exp) is { Op: Op.Neg } neg ? Node.Create(Op.Sigmoid, null, neg.Inputs[0]) : null;
    }

    /// <summary>x·sigmoid(x) or x / (1 + exp(−x)) → silu(x).</summary>
    public static Node? Silu(Match m)
    {
        var root = m.Root;
        if (!IsFloat(root)) return null;
        if (root.Op == Op.Mul)
        {
            for (int i = 0; i < 2; i++)
            {
                var s = root.Inputs[1 - i];
                if (s.Op == Op.Sigmoid && ReferenceEquals(s.Inputs[0], root.Inputs[i])) return Node.Create(Op.Silu, null, root.Inputs[i]);
            }
        }
        else if (root.Op == Op.Div && OnePlus(root.Inputs[1], Op.Exp) is { Op: Op.Neg } neg && ReferenceEquals(neg.Inputs[0], root.Inputs[0]))
        {
            return Node.Create(Op.Silu, null, root.Inputs[0]);
        }

        return null;
    }

    /// <summary>exp(x − max(x)) / sum(exp(x − max(x))) (or without the max) along one axis → softmax(x).</summary>
    public static Node? Softmax(Match m)
    {
        var root = m.Root;
        if (root.Op != Op.Div || !IsFloat(root)) return null;
        var e = root.Inputs[0];
        if (e.Op != Op.Exp) return null;
        if (UnExpand(root.Inputs[1], e.Shape) is not { } s || KeptReduceAxes(s, Op.Sum, e) is not { Count: 1 } axes) return null;
        var x = e.Inputs[0];
        if (x.Op == Op.Sub && UnExpand(x.Inputs[1], x.Shape) is { } mx && KeptReduceAxes(mx, Op.Max, x.Inputs[0]) is { } maxAxes && maxAxes == axes)
        {
            x = x.Inputs[0];
        }

        return Node.Create(Op.Softmax, new AxisAttrs(axes[0]), x);
    }

    /// <summary>
    /// (x − mean(x)) · rsqrt(mean((x − mean(x))²) + eps), or divided by sqrt(...), over trailing axes → layer_norm(x).
    /// </summary>
    public static Node? LayerNorm(Match m)
    {
        var root = m.Root;
        if (!IsFloat(root) || NormParts(root) is not { } p) return null;
        var xc = p.Normalized;
        if (xc.Op != Op.Sub || UnExpand(xc.Inputs[1], xc.Shape) is not { } mean) return null;
        var x = xc.Inputs[0];
        if (KeptReduceAxes(mean, Op.Mean, x) is not { } axes || !AreTrailingAxes(axes, x.Shape.Rank)) return null;
        if (KeptReduceAxes(p.Variance, Op.Mean, p.Square) is not { } vAxes || vAxes != axes) return null;
        if (!IsSquareOf(p.Square, out var sq) || !ReferenceEquals(sq, xc)) return null;
        return IrBuilder.LayerNorm(x, null, null, p.Eps, axes.Count);
    }

    /// <summary>x · rsqrt(mean(x²) + eps) (or x / sqrt(...)) over the last axis → rms_norm(x).</summary>
    public static Node? RmsNorm(Match m)
    {
        var root = m.Root;
        if (!IsFloat(root) || NormParts(root) is not { } p) return null;
        var x = p.Normalized;
        if (KeptReduceAxes(p.Variance, Op.Mean, p.Square) is not { Count: 1 } axes || axes[0] != x.Shape.Rank - 1) return null;
        if (!IsSquareOf(p.Square, out var sq) || !ReferenceEquals(sq, x)) return null;
        return IrBuilder.RmsNorm(x, null, p.Eps);
    }

    /// <summary>norm(x) · w with w of the normalized shape (broadcast) → the norm with a weight.</summary>
    public static Node? NormWeight(Match m)
    {
        var root = m.Root;
        for (int i = 0; i < 2; i++)
        {
            var n = root.Inputs[i];
            if (n.Op is not (Op.LayerNorm or Op.RmsNorm)) continue;
            var a = n.Attr<NormAttrs>();
            if (a.HasWeight || a.HasBias) continue;
            var x = n.Inputs[0];
            var paramShape = new Shape(x.Shape.Skip(x.Shape.Rank - a.NormalizedDims));
            if (BroadcastSource(root.Inputs[1 - i], paramShape) is not { } w || w.DType != x.DType) continue;
            return n.Op == Op.LayerNorm ? IrBuilder.LayerNorm(x, w, null, a.Eps, a.NormalizedDims) : IrBuilder.RmsNorm(x, w, a.Eps);
        }

        return null;
    }

    /// <summary>layer_norm(x[, w]) + b with b of the normalized shape (broadcast) → layer norm with a bias.</summary>
    public static Node? NormBias(Match m)
    {
        var root = m.Root;
        for (int i = 0; i < 2; i++)
        {
            var n = root.Inputs[i];
            if (n.Op != Op.LayerNorm || n.Attr<NormAttrs>() is not { HasBias: false } a) continue;
            var x = n.Inputs[0];
            var paramShape = new Shape(x.Shape.Skip(x.Shape.Rank - a.NormalizedDims));
            if (BroadcastSource(root.Inputs[1 - i], paramShape) is not { } b || b.DType != x.DType) continue;
            return IrBuilder.LayerNorm(x, a.HasWeight ? n.Inputs[1] : null, b, a.Eps, a.NormalizedDims);
        }

        return null;
    }

    /// <summary>
    /// x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x[..., D/2:], x[..., :D/2]), with cos and sin built from
    /// duplicated halves (cat(f, f), as transformers builds them) → rope(x, cos_half, sin_half).
    /// </summary>
    public static Node? RotateHalfRope(Match m)
    {
        var x = m["x"];
        if (!IsFloat(x) || x.Shape[^1].TryGetConstant() is not long d || d % 2 != 0) return null;
        int last = x.Shape.Rank - 1;
        var rot = m["rot"];
        if (rot.Attr<AxisAttrs>().Axis != last) return null;
        if (!IsSlice(m["hi"], last, d / 2, d) || !IsSlice(m["lo"], last, 0, d / 2)) return null;
        if (HalfOf(m["cos"]) is not { } c || HalfOf(m["sin"]) is not { } s) return null;
        return IrBuilder.Rope(x, c, s, interleaved: false);
    }

    /// <summary>
    /// softmax(q·kᵀ·scale [+ mask]) · v over rank-4 tensors → attention(q, k, v[, mask]) with that scale.
    /// </summary>
    public static Node? Attention(Match m)
    {
        var root = m.Root;
        var p = root.Inputs[0];
        var v = root.Inputs[1];
        if (p.Op != Op.Softmax || root.Shape.Rank != 4 || p.Attr<AxisAttrs>().Axis != 3 || !IsFloat(root)) return null;
        var s = p.Inputs[0];
        if (Scores(s) is { } sc) return IrBuilder.Attention(sc.Q, sc.K, v, null, false, sc.Scale);
        if (s.Op != Op.Add) return null;
        for (int i = 0; i < 2; i++)
        {
            if (Scores(s.Inputs[i]) is { } sm) return IrBuilder.Attention(sm.Q, sm.K, v, s.Inputs[1 - i], false, sm.Scale);
        }

        return null;
    }

    private static (Node Q, Node K, double Scale)? Scores(Node s)
    {
        var (coef, f) = ProductTerms(s);
        if (f.Count != 1 || f[0].Op != Op.MatMul) return null;
        var mm = f[0];
        var (qc, qf) = ProductTerms(mm.Inputs[0]);
        var kt = mm.Inputs[1];
        if (qf.Count != 1 || kt.Op != Op.Permute || !kt.Attr<PermuteAttrs>().Perm.SequenceEqual([0, 1, 3, 2])) return null;
        var q = qf[0];
        var k = kt.Inputs[0];
        if (q.Shape.Rank != 4 || k.Shape.Rank != 4) return null;
        return (q, k, coef * qc);
    }

    private static Node? OnePlus(Node n, Op op)
    {
        if (n.Op != Op.Add) return null;
        for (int i = 0; i < 2; i++)
        {
            if (IsApproximately(n.Inputs[i], 1) && n.Inputs[1 - i].Op == op) return n.Inputs[1 - i].Inputs[0];
        }

        return null;
    }

    private static bool IsSlice(Node n, int axis, long start, long end)
    {
        var a = n.Attr<SliceAttrs>();
        return a.Axis == axis && a.Step == 1 && a.Start.TryGetConstant() == start && a.End.TryGetConstant() == end;
    }

    // The first half (along the last axis) of a tensor known to be cat(h, h) along that axis, or null.
    private static Node? HalfOf(Node c)
    {
        int last = c.Shape.Rank - 1;
        if (c.Shape[^1].TryGetConstant() is not long d || d % 2 != 0) return null;
        if (UniformValue(c) is { } u) return IrBuilder.Full(u, c.DType, c.Shape.With(last, d / 2));
        switch (c.Op)
        {
            case Op.Concat when c.Attr<AxisAttrs>().Axis == last && c.Inputs.Length == 2 && ReferenceEquals(c.Inputs[0], c.Inputs[1]):
                return c.Inputs[0];
            case Op.Expand when c.Inputs[0].Shape[^1] == c.Shape[^1]:
                return HalfOf(c.Inputs[0]) is { } he ? Node.Create(Op.Expand, new ShapeAttrs(c.Shape.With(last, d / 2)), he) : null;
            case Op.Reshape when c.Inputs[0].Shape.Rank > 0 && c.Inputs[0].Shape[^1] == c.Shape[^1]:
                return HalfOf(c.Inputs[0]) is { } hr ? IrBuilder.Reshape(hr, c.Shape.With(last, d / 2)) : null;
            case var op when op.IsUnary():
                return HalfOf(c.Inputs[0]) is { } hu ? Node.Create(op, [hu], c.Attrs) : null;
            case var op when op.IsBinary():
                return HalfOf(c.Inputs[0]) is { } h0 && HalfOf(c.Inputs[1]) is { } h1 ? Node.Create(op, [h0, h1], c.Attrs) : null;
            default:
                return null;
        }
    }

    private sealed record NormPieces(Node Normalized, Node Variance, Node Square, double Eps);

    // a · rsqrt(var + eps) or a / sqrt(var + eps), the factor broadcast from var's kept shape.
    private static NormPieces? NormParts(Node root)
    {
        for (int i = 0; i < (root.Op == Op.Mul ? 2 : 1); i++)
        {
            var a = root.Inputs[i];
            var r = UnExpand(root.Inputs[1 - i], a.Shape);
            if (r is null || r.Op != (root.Op == Op.Mul ? Op.Rsqrt : Op.Sqrt) || root.Op is not (Op.Mul or Op.Div)) continue;
            var sum = r.Inputs[0];
            if (sum.Op != Op.Add) continue;
            for (int j = 0; j < 2; j++)
            {
                if (UniformValue(sum.Inputs[1 - j]) is not { } eps) continue;
                var variance = sum.Inputs[j];
                var mean = variance.Op == Op.Reshape ? variance.Inputs[0] : variance;
                var sq = mean.Op == Op.Mean ? mean.Inputs[0] : null;
                if (sq is not null) return new NormPieces(a, variance, sq, eps);
            }
        }

        return null;
    }
}
