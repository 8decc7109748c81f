using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// LinearAttention (opset 27): the recurrent state S [B, H_kv, d_k, d_v] updated token by token, unrolled over the
/// constant sequence length T, in float32. Per token: "gated" and "gated_delta" scale S by exp(decay) (per head or per
/// key dimension); "delta" and "gated_delta" replace v by β·(v − Sᵀk); every rule adds k ⊗ v; the output is
/// scale·qᵀS. With q_num_heads = g·kv_num_heads, query head h reads the state of KV head ⌊h / g⌋. The output has the
/// query's type, present_state past_state's (the query's without one).
/// </summary>
internal static class LinearAttentionOps
{
    private const int NodesPerStep = 16;

    public static void Register(Dictionary<string, OpImporter> t) => t["LinearAttention"] = LinearAttention;

    private static OnnxValue[] LinearAttention(NodeImport n)
    {
        string rule = n.Attrs.String("update_rule", "gated_delta");
        if (rule is not ("linear" or "gated" or "delta" or "gated_delta")) throw n.Import($"update_rule '{rule}' is not one of linear, gated, delta, gated_delta");
        bool gated = rule is "gated" or "gated_delta", delta = rule is "delta" or "gated_delta";
        long qHeads = n.Attrs.Int("q_num_heads"), kvHeads = n.Attrs.Int("kv_num_heads");
        if (qHeads <= 0 || kvHeads <= 0 || qHeads % kvHeads != 0) throw n.Import($"q_num_heads {qHeads} must be a positive multiple of kv_num_heads {kvHeads}");
        if (gated != n.HasInput(4)) throw n.Import($"update_rule '{rule}' {(gated ? "needs" : "takes no")} decay (input 4)");
        if (delta != n.HasInput(5)) throw n.Import($"update_rule '{rule}' {(delta ? "needs" : "takes no")} beta (input 5)");
        Node query = n.Input(0), key = n.Input(1), value = n.Input(2);
        if (query.Shape.Rank != 3 || key.Shape.Rank != 3 || value.Shape.Rank != 3) throw n.Import($"needs 3-D query, key and value, got {query.Shape}, {key.Shape}, {value.Shape}");
        if (!query.DType.IsFloat()) throw n.Import($"needs floating-point inputs, got {query.DType.TorchName()}");
        if (query.Shape[1].TryGetConstant() is not long steps || steps < 1) throw n.Import($"needs a constant sequence length of at least 1, got query {query.Shape}");
        if (query.Shape[2].TryGetConstant() is not long qWidth || qWidth % qHeads != 0) throw n.Import($"query {query.Shape} does not split into {qHeads} heads");
        if (value.Shape[2].TryGetConstant() is not long vWidth || vWidth % kvHeads != 0) throw n.Import($"value {value.Shape} does not split into {kvHeads} heads");
        long dk = qWidth / qHeads, dv = vWidth / kvHeads, group = qHeads / kvHeads;
        if (key.Shape[2] != Dim.Of(kvHeads * dk)) throw n.Import($"key {key.Shape} does not hold {kvHeads} heads of {dk}");
        if (key.Shape[1] != query.Shape[1] || value.Shape[1] != query.Shape[1]) throw n.Import($"query, key and value have different sequence lengths: {query.Shape}, {key.Shape}, {value.Shape}");
        n.Expand(steps * NodesPerStep, 0, $"unrolling {steps} steps");

        Dim batch = query.Shape[0];
        var q = Heads(query, qHeads, dk);
        var k = Heads(key, kvHeads, dk);
        var v = Heads(value, kvHeads, dv);
        var stateShape = new Shape(batch, Dim.Of(kvHeads), Dim.Of(dk), Dim.Of(dv));
        Node state;
        DType stateType = query.DType;
        if (n.OptionalInput(3) is { } past)
        {
            if (past.Shape.Rank != 4 || past.Shape[1] != Dim.Of(kvHeads) || past.Shape[2] != Dim.Of(dk) || past.Shape[3] != Dim.Of(dv)) throw n.Import($"past_state {past.Shape} is not [B, {kvHeads}, {dk}, {dv}]");
            stateType = past.DType;
            state = Cast(past, DType.F32);
        }
        else
        {
            state = Full(0, DType.F32, stateShape);
        }

        Node? decay = null, beta = null;
        if (gated)
        {
            var g = n.Input(4);
            if (g.Shape.Rank != 3) throw n.Import($"needs a 3-D decay, got {g.Shape}");
            long width = g.Shape[2].TryGetConstant() ?? -1;
            // Per head (B, T, H_kv) → [B, H_kv, T, 1]; per key dimension (B, T, H_kv·d_k) → [B, H_kv, T, d_k].
            decay = width == kvHeads ? Heads(g, kvHeads, 1) : width == kvHeads * dk ? Heads(g, kvHeads, dk) : throw n.Import($"decay {g.Shape} must end in kv_num_heads ({kvHeads}) or kv_num_heads·d_k ({kvHeads * dk})");
        }

        if (delta)
        {
            var b = n.Input(5);
            if (b.Shape.Rank != 3 || b.Shape[2].TryGetConstant() is not long width || (width != kvHeads && width != 1)) throw n.Import($"beta {b.Shape} must be 3-D ending in kv_num_heads ({kvHeads}) or 1");
            beta = Heads(b, width, 1);
        }

        double scale = n.Attrs.Float("scale", 0);
        if (scale == 0) scale = 1 / Math.Sqrt(dk);
        var outputs = new List<Node>((int)steps);
        for (long i = 0; i < steps; i++)
        {
            var kRow = SliceAxis(k, 2, i, i + 1);   // [B, H_kv, 1, d_k]
            var vRow = SliceAxis(v, 2, i, i + 1);   // [B, H_kv, 1, d_v]
            if (decay is not null) state = Binary(Op.Mul, state, Unary(Op.Exp, Transpose(SliceAxis(decay, 2, i, i + 1), 2, 3)));
            if (beta is not null) vRow = Binary(Op.Mul, SliceAxis(beta, 2, i, i + 1), Binary(Op.Sub, vRow, MatMul(kRow, state)));
            state = Binary(Op.Add, state, MatMul(Transpose(kRow, 2, 3), vRow));
            // The g query heads of a KV head read its state: [B, H_kv, g, d_k] · [B, H_kv, d_k, d_v].
            var qRow = Reshape(SliceAxis(q, 2, i, i + 1), new Shape(batch, Dim.Of(kvHeads), Dim.Of(group), Dim.Of(dk)));
            outputs.Add(Reshape(MatMul(qRow, state), new Shape(batch, Dim.Of(qHeads), Dim.One, Dim.Of(dv))));
        }

        var y = Binary(Op.Mul, outputs.Count == 1 ? outputs[0] : Concat(outputs, 2), Scalar(scale, DType.F32));
        y = Reshape(Permute(y, 0, 2, 1, 3), new Shape(batch, Dim.Of(steps), Dim.Of(qHeads * dv)));
        return [new OnnxValue(Cast(y, query.DType)), new OnnxValue(Cast(state, stateType))];
    }

    /// <summary>[B, T, heads·d] → [B, heads, T, d] in float32.</summary>
    private static Node Heads(Node x, long heads, long d) =>
        Cast(Permute(Reshape(x, new Shape(x.Shape[0], x.Shape[1], Dim.Of(heads), Dim.Of(d))), 0, 2, 1, 3), DType.F32);
}
