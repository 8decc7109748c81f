using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// FlexAttention (ai.onnx.preview, version 1): attention over Q [B, Hq, L, E], K [B, Hkv, S, E], V [B, Hkv, S, Ev]
/// whose scores (Q·√scale)(K·√scale)ᵀ, in softmax_precision (float32 for inputs narrower than float32, else the
/// input's type), go through the score_mod subgraph, a softmax over the keys, and the prob_mod subgraph before the
/// product with V; both subgraphs are imported inline with the tensor bound to their one input. Query head h reads
/// K/V head ⌊h / (Hq / Hkv)⌋. Y has V's type.
/// </summary>
internal static class FlexAttentionOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["ai.onnx.preview:FlexAttention"] = FlexAttention;

    private static OnnxValue[] FlexAttention(NodeImport n)
    {
        Node q = n.Input(0), k = n.Input(1), v = n.Input(2);
        if (q.Shape.Rank != 4 || k.Shape.Rank != 4 || v.Shape.Rank != 4) throw n.Import($"needs 4-D Q, K and V, got {q.Shape}, {k.Shape}, {v.Shape}");
        if (!q.DType.IsFloat() || k.DType != q.DType || v.DType != q.DType) throw n.Import($"needs Q, K and V of one floating-point type, got {q.DType.TorchName()}, {k.DType.TorchName()}, {v.DType.TorchName()}");
        if (q.Shape[3].TryGetConstant() is not long headSize || headSize <= 0) throw n.Import($"needs a constant head size, got Q {q.Shape}");
        if (k.Shape[3] != q.Shape[3]) throw n.Import($"Q {q.Shape} and K {k.Shape} have different head sizes");
        if (v.Shape[1] != k.Shape[1] || v.Shape[2] != k.Shape[2]) throw n.Import($"K {k.Shape} and V {v.Shape} differ in heads or sequence length");
        if (q.Shape[1].TryGetConstant() is not long qh || k.Shape[1].TryGetConstant() is not long kh || kh <= 0 || qh % kh != 0)
            throw n.Import($"needs constant head counts with Q's a multiple of K's, got Q {q.Shape} and K {k.Shape}");

        DType compute = q.DType is DType.F64 ? DType.F64 : DType.F32;
        if (n.Attrs.Has("softmax_precision"))
        {
            long code = n.Attrs.Int("softmax_precision");
            compute = code is 1 or 10 or 11 or 16 ? OnnxDataTypes.ToDType((int)code)!.Value : throw n.Import($"softmax_precision {code} is not FLOAT, FLOAT16, BFLOAT16 or DOUBLE");
        }

        double scale = n.Attrs.Float("scale", 1 / Math.Sqrt(headSize));
        if (qh != kh)
        {
            k = AttentionOps.RepeatHeads(k, qh / kh);
            v = AttentionOps.RepeatHeads(v, qh / kh);
        }

        var root = Scalar((float)Math.Sqrt((float)scale), q.DType);
        var scores = Cast(MatMul(Binary(Op.Mul, q, root), Transpose(Binary(Op.Mul, k, root), 2, 3)), compute);
        scores = Modify(n, "score_mod", scores);
        var probs = Modify(n, "prob_mod", Softmax(scores, -1));
        return NodeImport.One(Cast(MatMul(probs, Cast(v, compute)), v.DType));
    }

    /// <summary>The modifier subgraph <paramref name="attribute"/> applied to <paramref name="x"/>, or x without one.</summary>
    private static Node Modify(NodeImport n, string attribute, Node x)
    {
        if (!n.Attrs.Has(attribute)) return x;
        var outputs = n.Body(attribute, [new OnnxValue(x)]);
        if (outputs.Length != 1) throw n.Import($"{attribute} has {outputs.Length} outputs, expected 1");
        var y = outputs[0].Node ?? throw n.Import($"{attribute} output is {outputs[0].Kind}, where a tensor is expected");
        if (!y.Shape.Equals(x.Shape)) throw n.Import($"{attribute} changes the shape {x.Shape} to {y.Shape}");
        return Cast(y, x.DType);
    }
}
