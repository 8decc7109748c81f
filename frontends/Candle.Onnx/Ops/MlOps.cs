using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Ops of the ai.onnx.ml domain on numeric tensors: Binarizer (1 where X &gt; threshold, else 0, in X's type) and
/// ArrayFeatureExtractor (the entries of X's last axis at the flattened indices Y; a 1-d X gives one row).
/// </summary>
internal static class MlOps
{
    private const string Domain = "ai.onnx.ml";

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t[Domain + ":Binarizer"] = Binarizer;
        t[Domain + ":ArrayFeatureExtractor"] = ArrayFeatureExtractor;
    }

    private static OnnxValue[] Binarizer(NodeImport n)
    {
        var x = n.Input(0);
        if (x.DType is not (DType.F32 or DType.F64 or DType.I64 or DType.I32)) throw n.Import($"needs float, double, int64 or int32 input, got {x.DType.TorchName()}");
        double threshold = n.Attrs.Float("threshold", 0);
        return NodeImport.One(Cast(Binary(Op.Gt, Cast(x, DType.F64), Scalar(threshold, DType.F64)), x.DType));
    }

    private static OnnxValue[] ArrayFeatureExtractor(NodeImport n)
    {
        Node x = n.Input(0), indices = n.Input(1);
        if (x.Shape.Rank < 1) throw n.Import($"needs an input of rank 1 or more, got {x.Shape}");
        if (x.Shape[^1].TryGetConstant() is not long size) throw n.Import($"needs a constant last dimension, got {x.Shape}");
        var flat = Reshape(Cast(indices, DType.I64), new Shape(indices.Shape.Numel));
        flat = Where(Binary(Op.Lt, flat, Scalar(0, DType.I64)), Binary(Op.Add, flat, Scalar(size, DType.I64)), flat);
        var y = IndexSelect(x, x.Shape.Rank - 1, flat);
        return NodeImport.One(x.Shape.Rank == 1 ? Reshape(y, new Shape(Dim.One, y.Shape[0])) : y);
    }
}
