using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>MatMul (numpy semantics, as the IR's) and Gemm (alpha·A'·B' + beta·C with C broadcast).</summary>
internal static class MatrixOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["MatMul"] = n => NodeImport.One(MatMul(n.Input(0), n.Input(1)));
        t["Gemm"] = Gemm;
    }

    private static OnnxValue[] Gemm(NodeImport n)
    {
        Node a = n.Input(0), b = n.Input(1);
        if (a.Shape.Rank != 2 || b.Shape.Rank != 2) throw n.Import($"needs 2-d A and B, got {a.Shape} and {b.Shape}");
        if (n.Attrs.Int("transA", 0) != 0) a = Transpose(a, 0, 1);
        if (n.Attrs.Int("transB", 0) != 0) b = Transpose(b, 0, 1);
        double alpha = n.Attrs.Float("alpha", 1.0), beta = n.Attrs.Float("beta", 1.0);
        var y = MatMul(a, b);
        if (alpha != 1.0) y = Binary(Op.Mul, y, Scalar(alpha, y.DType));
        if (n.OptionalInput(2) is { } c)
        {
            if (beta != 1.0) c = Binary(Op.Mul, c, Scalar(beta, c.DType));
            y = Binary(Op.Add, y, c);
        }

        return NodeImport.One(y);
    }
}
