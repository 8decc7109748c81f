using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// TensorScatter (opset 24): the cache past_cache with update's L positions along the sequence axis written from
/// write_indices[b] on (zeros without it), modulo the cache length M in "circular" mode. Composed as a gather: cache
/// position p of batch b reads update position s = p − w[b] (mod M when circular) where 0 ≤ s &lt; L, and keeps the
/// cache elsewhere; writes past the end in "linear" mode, which the spec rules out, are dropped.
/// </summary>
internal static class TensorScatterOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["TensorScatter"] = TensorScatter;

    private static OnnxValue[] TensorScatter(NodeImport n)
    {
        string mode = n.Attrs.String("mode", "linear");
        if (mode is not ("linear" or "circular")) throw n.Import($"mode '{mode}' is not linear or circular");
        Node past = n.Input(0), update = n.Input(1);
        int rank = past.Shape.Rank;
        if (rank < 2 || update.Shape.Rank != rank) throw n.Import($"needs past_cache and update of one rank ≥ 2, got {past.Shape} and {update.Shape}");
        int axis = n.Axis(n.Attrs.Int("axis", -2), rank);
        if (axis == 0) throw n.Import("axis cannot be the batch axis 0");
        for (int i = 0; i < rank; i++)
        {
            if (i != axis && past.Shape[i] != update.Shape[i]) throw n.Import($"past_cache {past.Shape} and update {update.Shape} differ in axis {i}");
        }

        if (past.Shape[axis].TryGetConstant() is not long cache || update.Shape[axis].TryGetConstant() is not long length) throw n.Import($"needs constant sequence lengths, got past_cache {past.Shape} and update {update.Shape}");
        if (length > cache) throw n.Import($"update {update.Shape} is longer than the cache {past.Shape} along axis {axis}");
        if (length == 0) return [n.Value(0)];

        var positionShape = Enumerable.Repeat(Dim.One, rank).ToArray();
        positionShape[axis] = Dim.Of(cache);
        var positions = Reshape(Arange(Dim.Of(cache)), new Shape(positionShape));
        Node source = positions;
        if (n.OptionalInput(2) is { } indices)
        {
            if (indices.Shape.Rank != 1 || indices.Shape[0] != past.Shape[0]) throw n.Import($"write_indices {indices.Shape} is not [{past.Shape[0]}]");
            var batchShape = Enumerable.Repeat(Dim.One, rank).ToArray();
            batchShape[0] = past.Shape[0];
            source = Binary(Op.Sub, positions, Reshape(Cast(indices, DType.I64), new Shape(batchShape)));
        }

        if (mode == "circular") source = Binary(Op.Remainder, source, Scalar(cache, DType.I64));
        var valid = Binary(Op.LogicalAnd, Binary(Op.Ge, source, Scalar(0, DType.I64)), Binary(Op.Lt, source, Scalar(length, DType.I64)));
        var index = BroadcastTo(Binary(Op.Minimum, Binary(Op.Maximum, source, Scalar(0, DType.I64)), Scalar(length - 1, DType.I64)), past.Shape);
        return NodeImport.One(Where(BroadcastTo(valid, past.Shape), Gather(update, axis, index), past));
    }
}
