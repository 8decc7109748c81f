using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Attention (opset 23): scaled dot-product attention composed of IR ops. 3-D inputs [B, S, heads·D] are split into
/// heads (q_num_heads, kv_num_heads); past_key/past_value are concatenated before K/V (the present outputs); fewer
/// KV heads than Q heads repeat each KV head (grouped-query attention); the mask (boolean: attend where true, or
/// additive; padded with −∞ up to the total sequence length) and the causal mask (query i attends key j when
/// j ≤ i + past length) are added after the optional softcap; qk_matmul_output_mode picks the fourth output.
/// </summary>
internal static class AttentionOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["Attention"] = Attention;

    private static OnnxValue[] Attention(NodeImport n)
    {
        if (n.HasInput(6)) throw n.Import("nonpad_kv_seqlen is not supported");
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
    private static Node RepeatHeads(Node x, long reps)
    {
        var s = x.Shape;
        var expanded = BroadcastTo(Unsqueeze(x, 2), new Shape(s[0], s[1], Dim.Of(reps), s[2], s[3]));
        return Reshape(expanded, new Shape(s[0], s[1] * reps, s[2], s[3]));
    }
}
