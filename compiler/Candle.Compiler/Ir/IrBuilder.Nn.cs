using Candle.Runtime;

namespace Candle.Compiler.Ir;

public static partial class IrBuilder
{
    /// <summary>
    /// torch.matmul: vectors are promoted to matrices and squeezed back, batch dims broadcast.
    /// </summary>
    public static Node MatMul(Node a, Node b)
    {
        if (a.Shape.Rank == 0 || b.Shape.Rank == 0) throw IrException.For(Op.MatMul, [a, b], "both arguments need at least one dimension");
        var dt = DTypeExtensions.Promote(a.DType, b.DType);
        a = Cast(a, dt);
        b = Cast(b, dt);
        bool vecA = a.Shape.Rank == 1, vecB = b.Shape.Rank == 1;
        if (vecA) a = Unsqueeze(a, 0);
        if (vecB) b = Unsqueeze(b, -1);
        var ka = a.Shape[^1];
        var kb = b.Shape[^2];
        if (ka != kb) throw IrException.For(Op.MatMul, [a, b], $"inner dimensions differ: {ka} vs {kb}");
        var batchA = new Shape(a.Shape.Take(a.Shape.Rank - 2));
        var batchB = new Shape(b.Shape.Take(b.Shape.Rank - 2));
        var batch = BroadcastShapes(Op.MatMul, Full(0, dt, batchA), Full(0, dt, batchB));
        a = BroadcastTo(a, new Shape(batch.Concat(a.Shape.Skip(a.Shape.Rank - 2))));
        b = BroadcastTo(b, new Shape(batch.Concat(b.Shape.Skip(b.Shape.Rank - 2))));
        var r = Node.Create(Op.MatMul, null, a, b);
        if (vecB) r = Squeeze(r, -1);
        if (vecA) r = Squeeze(r, vecB ? -1 : -2);
        return r;
    }

    /// <summary>torch.nn.functional.linear: x @ wᵀ + b, with w of shape [out, in].</summary>
    public static Node Linear(Node x, Node weight, Node? bias = null)
    {
        var y = MatMul(x, Transpose(weight, 0, 1));
        return bias is null ? y : Binary(Op.Add, y, bias);
    }

    /// <summary>N-d convolution (1-d or 2-d in practice); parameters per spatial dim.</summary>
    public static Node Conv(Node x, Node w, Node? bias, int[] stride, int[] padding, int[] dilation, int groups)
    {
        var attrs = new ConvAttrs(stride, padding, dilation, groups, [], bias is not null);
        return bias is null ? Node.Create(Op.Conv, attrs, x, Cast(w, x.DType)) : Node.Create(Op.Conv, attrs, x, Cast(w, x.DType), Cast(bias, x.DType));
    }

    /// <summary>N-d transposed convolution; weight [C_in, C_out/groups, *k].</summary>
    public static Node ConvTranspose(Node x, Node w, Node? bias, int[] stride, int[] padding, int[] outputPadding, int[] dilation, int groups)
    {
        var attrs = new ConvAttrs(stride, padding, dilation, groups, outputPadding, bias is not null);
        return bias is null ? Node.Create(Op.ConvTranspose, attrs, x, Cast(w, x.DType)) : Node.Create(Op.ConvTranspose, attrs, x, Cast(w, x.DType), Cast(bias, x.DType));
    }

    /// <summary>Max or average pooling (average counts padding, as PyTorch's default).</summary>
    public static Node Pool(Op op, Node x, int[] kernel, int[] stride, int[] padding, bool countIncludePad = true) =>
        Node.Create(op, new PoolAttrs(kernel, stride, padding, countIncludePad), x);

    /// <summary>Nearest upsampling of the spatial dims by integer factors.</summary>
    public static Node UpsampleNearest(Node x, params int[] scale) => Node.Create(Op.UpsampleNearest, new UpsampleAttrs(scale), x);

    /// <summary>Layer norm over the last <paramref name="normalizedDims"/> dims.</summary>
    public static Node LayerNorm(Node x, Node? weight, Node? bias, double eps, int normalizedDims = 1) =>
        Node.Create(Op.LayerNorm, [x, .. Opt(weight, x), .. Opt(bias, x)], new NormAttrs(eps, normalizedDims, 1, weight is not null, bias is not null));

    /// <summary>RMS norm over the last dim: x / sqrt(mean(x²) + eps) · weight.</summary>
    public static Node RmsNorm(Node x, Node? weight, double eps) =>
        Node.Create(Op.RmsNorm, [x, .. Opt(weight, x)], new NormAttrs(eps, 1, 1, weight is not null, false));

    /// <summary>Group norm of [N, C, ...] with <paramref name="groups"/> groups.</summary>
    public static Node GroupNorm(Node x, int groups, Node? weight, Node? bias, double eps) =>
        Node.Create(Op.GroupNorm, [x, .. Opt(weight, x), .. Opt(bias, x)], new NormAttrs(eps, 1, groups, weight is not null, bias is not null));

    /// <summary>
    /// Rotary embedding of x [..., D] with cos, sin broadcastable to [..., D/2]; interleaved pairs (2i, 2i+1)
    /// or halves (i, i + D/2) as transformers' rotate_half.
    /// </summary>
    public static Node Rope(Node x, Node cos, Node sin, bool interleaved)
    {
        var d = x.Shape[^1];
        if (!d.IsDivisibleBy(2)) throw IrException.For(Op.Rope, [x, cos, sin], $"last dimension {d} must be even");
        var half = x.Shape.With(x.Shape.Rank - 1, d / 2);
        Node Prep(Node t)
        {
            t = Cast(t, x.DType);
            BroadcastShapes(Op.Rope, Full(0, x.DType, half), t);
            return BroadcastTo(t, half);
        }

        return Node.Create(Op.Rope, new RopeAttrs(interleaved), x, Prep(cos), Prep(sin));
    }

    /// <summary>
    /// Scaled dot-product attention: q [B, H, Sq, D], k and v [B, Hkv, Sk, D] (H a multiple of Hkv), an optional
    /// mask broadcastable to [B, H, Sq, Sk] (bool: true keeps; float: added), causal bottom-right aligned.
    /// Scale defaults to 1/√D.
    /// </summary>
    public static Node Attention(Node q, Node k, Node v, Node? mask = null, bool causal = false, double? scale = null)
    {
        if (q.Shape.Rank != 4) throw IrException.For(Op.Attention, [q, k, v], "expects q, k, v of rank 4 [batch, heads, seq, head_dim]");
        double s = scale ?? 1.0 / Math.Sqrt(q.Shape[3].TryGetConstant() ?? throw IrException.For(Op.Attention, [q, k, v], "head_dim must be constant"));
        var attrs = new AttentionAttrs(s, causal, mask is not null);
        if (mask is null) return Node.Create(Op.Attention, attrs, q, Cast(k, q.DType), Cast(v, q.DType));
        var want = new Shape(q.Shape[0], q.Shape[1], q.Shape[2], k.Shape[2]);
        if (mask.DType != DType.Bool) mask = Cast(mask, q.DType);
        BroadcastShapes(Op.Attention, Full(0, mask.DType, want), mask);
        return Node.Create(Op.Attention, attrs, q, Cast(k, q.DType), Cast(v, q.DType), BroadcastTo(mask, want));
    }

    private static Node[] Opt(Node? n, Node like) => n is null ? [] : [Cast(n, like.DType)];
}
