using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Attention (opset 23): scaled dot-product attention composed of IR ops. 3-D inputs [B, S, heads·D] are split into
/// heads (q_num_heads, kv_num_heads); past_key/past_value are concatenated before K/V (the present outputs); fewer
/// KV heads than Q heads repeat each KV head (grouped-query attention); the mask (boolean: attend where true, or
/// additive; padded with −∞ up to the total sequence length), the causal mask (query i attends key j when
/// j ≤ i + past length) and the padding of nonpad_kv_seqlen (keys from nonpad_kv_seqlen[b] on) are added after the
/// optional softcap; qk_matmul_output_mode picks the fourth output.
/// </summary>
internal static class AttentionOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["Attention"] = Attention;
        t["RotaryEmbedding"] = RotaryEmbedding;
    }

    /// <summary>
    /// RotaryEmbedding (opset 23): X [B, H, S, D] or [B, S, heads·D]; the first rotary_embedding_dim entries of each
    /// head are rotated by the cos/sin caches (gathered at position_ids when given), as halves or interleaved pairs.
    /// </summary>
    private static OnnxValue[] RotaryEmbedding(NodeImport n)
    {
        var input = n.Input(0);
        Node cos = n.Input(1), sin = n.Input(2);
        int rank = input.Shape.Rank;
        if (rank is not (3 or 4)) throw n.Import($"needs a 3-D or 4-D input, got {input.Shape}");
        var x = rank == 4 ? Permute(input, 0, 2, 1, 3) : input;
        if (rank == 3)
        {
            long heads = n.Attrs.Int("num_heads", 0);
            if (heads <= 0 || x.Shape[2].TryGetConstant() is not long hidden || hidden % heads != 0) throw n.Import($"needs num_heads dividing the hidden size of {x.Shape}");
            x = Reshape(x, new Shape(x.Shape[0], x.Shape[1], Dim.Of(heads), Dim.Of(hidden / heads)));
        }

        if (x.Shape[3].TryGetConstant() is not long headSize) throw n.Import($"needs a constant head size, got {x.Shape}");
        long dim = n.Attrs.Int("rotary_embedding_dim", 0);
        if (dim == 0) dim = headSize;
        if (dim < 0 || dim > headSize || dim % 2 != 0) throw n.Import($"rotary_embedding_dim {dim} must be even and at most the head size {headSize}");
        if (n.OptionalInput(3) is { } positions)
        {
            if (cos.Shape.Rank != 2 || sin.Shape.Rank != 2) throw n.Import($"needs 2-D caches with position_ids, got {cos.Shape} and {sin.Shape}");
            var flat = Reshape(Cast(positions, DType.I64), new Shape(positions.Shape.Numel));
            cos = Reshape(IndexSelect(cos, 0, flat), new Shape(positions.Shape.Concat([cos.Shape[1]])));
            sin = Reshape(IndexSelect(sin, 0, flat), new Shape(positions.Shape.Concat([sin.Shape[1]])));
        }

        if (cos.Shape.Rank != 3 || cos.Shape[2] != Dim.Of(dim / 2) || !sin.Shape.Equals(cos.Shape)) throw n.Import($"needs caches [B, S, {dim / 2}], got {cos.Shape} and {sin.Shape}");
        cos = Cast(Unsqueeze(cos, 2), x.DType);
        sin = Cast(Unsqueeze(sin, 2), x.DType);
        bool interleaved = n.Attrs.Int("interleaved", 0) != 0;
        var rotate = SliceAxis(x, 3, 0, dim);
        Node x1 = interleaved ? SliceAxis(rotate, 3, 0, dim, 2) : SliceAxis(rotate, 3, 0, dim / 2);
        Node x2 = interleaved ? SliceAxis(rotate, 3, 1, dim, 2) : SliceAxis(rotate, 3, dim / 2, dim);
        var real = Binary(Op.Sub, Binary(Op.Mul, cos, x1), Binary(Op.Mul, sin, x2));
        var imag = Binary(Op.Add, Binary(Op.Mul, sin, x1), Binary(Op.Mul, cos, x2));
        var rotated = interleaved ? Reshape(Stack([real, imag], 4), rotate.Shape) : Concat([real, imag], 3);
        var y = dim < headSize ? Concat([rotated, SliceAxis(x, 3, dim, headSize)], 3) : rotated;
        return NodeImport.One(rank == 4 ? Permute(y, 0, 2, 1, 3) : Reshape(y, input.Shape));
    }

    private static OnnxValue[] Attention(NodeImport n)
    {
        Node q = n.Input(0), k = n.Input(1), v = n.Input(2);
        int rank = q.Shape.Rank;
        if (rank is not (3 or 4) || k.Shape.Rank != rank || v.Shape.Rank != rank) throw n.Import($"needs Q, K and V all 3-D or all 4-D, got {q.Shape}, {k.Shape}, {v.Shape}");
        var dtype = q.DType;
        if (!dtype.IsFloat()) throw n.Import($"needs floating-point Q, got {dtype.TorchName()}");
        if (rank == 3)
        {
            long qHeads = n.Attrs.Int("q_num_heads"), kvHeads = n.Attrs.Int("kv_num_heads");
            q = SplitHeads(n, q, qHeads, "Q");
            k = SplitHeads(n, k, kvHeads, "K");
            v = SplitHeads(n, v, kvHeads, "V");
        }

        if (q.Shape[3].TryGetConstant() is not long headSize || headSize <= 0) throw n.Import($"needs a constant head size, got Q {q.Shape}");
        double scale = n.Attrs.Float("scale", 1 / Math.Sqrt(headSize));
        Dim past = Dim.Zero;
        if (n.HasInput(4) != n.HasInput(5)) throw n.Import("past_key and past_value must be given together");
        if (n.HasInput(4))
        {
            var pastKey = n.Input(4);
            if (pastKey.Shape.Rank != 4 || n.Input(5).Shape.Rank != 4) throw n.Import($"needs 4-D past_key and past_value, got {pastKey.Shape} and {n.Input(5).Shape}");
            past = pastKey.Shape[2];
            k = Concat([Cast(pastKey, k.DType), k], 2);
            v = Concat([Cast(n.Input(5), v.DType), v], 2);
        }

        Node presentKey = k, presentValue = v;
        Dim querySeq = q.Shape[2], totalSeq = k.Shape[2];

        Node? bias = null;
        if (n.OptionalInput(3) is { } mask)
        {
            if (mask.Shape.Rank < 1) throw n.Import($"needs an attn_mask of rank 1 or more, got {mask.Shape}");
            bias = mask.DType == DType.Bool ? Where(mask, Scalar(0, dtype), Scalar(double.NegativeInfinity, dtype)) : Cast(mask, dtype);
            var maskLength = mask.Shape[^1];
            if (maskLength != totalSeq)
            {
                if ((totalSeq - maskLength).TryGetConstant() is not long pad || pad < 0) throw n.Import($"attn_mask {mask.Shape} does not fit {totalSeq} keys");
                bias = Pad(bias, [0, checked((int)pad)], double.NegativeInfinity);
            }
        }

        if (n.Attrs.Int("is_causal", 0) != 0)
        {
            if (past.TryGetConstant() is not long pastLength) throw n.Import($"needs a constant past length for is_causal, got {past}");
            var rows = Reshape(Arange(querySeq, DType.I64, pastLength), new Shape(querySeq, Dim.One));
            var cols = Reshape(Arange(totalSeq), new Shape(Dim.One, totalSeq));
            var causal = Where(Binary(Op.Le, cols, rows), Scalar(0, dtype), Scalar(double.NegativeInfinity, dtype));
            bias = bias is null ? causal : Binary(Op.Add, bias, causal);
        }

        if (n.OptionalInput(6) is { } lengths)
        {
            // Keys at or past nonpad_kv_seqlen[b] are padding: −∞ for every query of batch b.
            if (lengths.Shape.Rank != 1 || lengths.Shape[0] != q.Shape[0]) throw n.Import($"nonpad_kv_seqlen {lengths.Shape} is not [{q.Shape[0]}]");
            var keys = Reshape(Arange(totalSeq), new Shape(Dim.One, Dim.One, Dim.One, totalSeq));
            var valid = Binary(Op.Lt, keys, Reshape(Cast(lengths, DType.I64), new Shape(q.Shape[0], Dim.One, Dim.One, Dim.One)));
            var padding = Where(valid, Scalar(0, dtype), Scalar(double.NegativeInfinity, dtype));
            bias = bias is null ? padding : Binary(Op.Add, bias, padding);
        }

        if (q.Shape[1].TryGetConstant() is not long qh || k.Shape[1].TryGetConstant() is not long kh || v.Shape[1] != k.Shape[1]) throw n.Import($"needs constant head counts, got Q {q.Shape}, K {k.Shape}, V {v.Shape}");
        if (qh != kh)
        {
            if (kh <= 0 || qh % kh != 0) throw n.Import($"{qh} query heads are not a multiple of {kh} key/value heads");
            k = RepeatHeads(k, qh / kh);
            v = RepeatHeads(v, qh / kh);
        }

        var scores = Binary(Op.Mul, MatMul(q, Transpose(k, 2, 3)), Scalar(scale, dtype));
        var raw = scores;
        double softcap = n.Attrs.Float("softcap", 0);
        if (softcap > 0) scores = Binary(Op.Mul, Unary(Op.Tanh, Binary(Op.Div, scores, Scalar(softcap, dtype))), Scalar(softcap, dtype));
        var capped = scores;
        if (bias is not null) scores = Binary(Op.Add, scores, bias);
        var withBias = scores;

        var probs = Cast(Softmax(Cast(scores, DType.F32), -1), dtype);
        var y = MatMul(probs, v);
        if (rank == 3)
        {
            y = Permute(y, 0, 2, 1, 3);
            y = Reshape(y, new Shape(y.Shape[0], y.Shape[1], y.Shape[2] * y.Shape[3]));
        }

        long mode = n.Attrs.Int("qk_matmul_output_mode", 0);
        var qk = mode switch
        {
            0 => softcap > 0 ? capped : raw,
            1 => softcap > 0 ? capped : raw,
            2 => withBias,
            3 => probs,
            _ => throw n.Import($"qk_matmul_output_mode={mode} is not defined (0 to 3)"),
        };
        return [new OnnxValue(y), new OnnxValue(presentKey), new OnnxValue(presentValue), new OnnxValue(qk)];
    }

    /// <summary>[B, S, heads·D] → [B, heads, S, D].</summary>
    private static Node SplitHeads(NodeImport n, Node x, long heads, string what)
    {
        if (heads <= 0 || x.Shape[2].TryGetConstant() is not long hidden || hidden % heads != 0) throw n.Import($"{what} {x.Shape} does not split into {heads} heads");
        return Permute(Reshape(x, new Shape(x.Shape[0], x.Shape[1], Dim.Of(heads), Dim.Of(hidden / heads))), 0, 2, 1, 3);
    }

    /// <summary>[B, H, L, D] → [B, H·r, L, D] with each head repeated r times in place (h0, h0, h1, h1, ...).</summary>
    internal static Node RepeatHeads(Node x, long reps)
    {
        var s = x.Shape;
        var expanded = BroadcastTo(Unsqueeze(x, 2), new Shape(s[0], s[1], Dim.Of(reps), s[2], s[3]));
        return Reshape(expanded, new Shape(s[0], s[1] * reps, s[2], s[3]));
    }
}
