using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// The optimizer steps of domain ai.onnx.preview.training, elementwise over each (X, G, state) group: Adagrad
/// (decayed rate, accumulated squared gradient), Momentum (standard or Nesterov, β taken as 1 at the first step) and
/// Adam (bias-corrected rate from the second step on, post-update shrink). Inputs are R (rate), T (step count), then the
/// groups; outputs the new X then the new states, as the spec lists them. The scalar coefficients are float64.
/// </summary>
internal static class TrainingOps
{
    private const string Domain = "ai.onnx.preview.training";

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t[Domain + ":Adagrad"] = Adagrad;
        t[Domain + ":Momentum"] = Momentum;
        t[Domain + ":Adam"] = Adam;
    }

    /// <summary>The number of tensors optimized, from the inputs after R and T split into <paramref name="perGroup"/> lists.</summary>
    private static int Groups(NodeImport n, int perGroup)
    {
        int rest = n.InputCount - 2;
        if (rest <= 0 || rest % perGroup != 0) throw n.Import($"has {n.InputCount} inputs; R, T and {perGroup} lists of equal length are expected");
        if (n.OutputCount > rest) throw n.Import($"has {n.OutputCount} outputs for {rest / perGroup} tensors");
        return rest / perGroup;
    }

    private static (Node R, Node T) RateAndStep(NodeImport n) =>
        (Cast(Reshape(n.Input(0), Shape.Scalar), DType.F64), Cast(Reshape(n.Input(1), Shape.Scalar), DType.F64));

    /// <summary>norm_coefficient · X + G.</summary>
    private static Node Regularized(NodeImport n, Node x, Node g)
    {
        double norm = n.Attrs.Float("norm_coefficient", 0);
        return norm == 0 ? g : Binary(Op.Add, Binary(Op.Mul, x, Scalar(norm, x.DType)), g);
    }

    private static OnnxValue[] Adagrad(NodeImport n)
    {
        int count = Groups(n, 3);
        double decay = n.Attrs.Float("decay_factor", 0), eps = n.Attrs.Float("epsilon", 1e-6);
        var (r, t) = RateAndStep(n);
        var rate = Binary(Op.Div, r, Binary(Op.Add, Scalar(1, DType.F64), Binary(Op.Mul, t, Scalar(decay, DType.F64))));
        var xs = new OnnxValue[count];
        var hs = new OnnxValue[count];
        for (int i = 0; i < count; i++)
        {
            Node x = n.Input(2 + i), g = n.Input(2 + count + i), h = n.Input(2 + (2 * count) + i);
            var gr = Regularized(n, x, g);
            var hNew = Binary(Op.Add, h, Binary(Op.Mul, gr, gr));
            var adaptive = Binary(Op.Add, Unary(Op.Sqrt, hNew), Scalar(eps, x.DType));
            xs[i] = new OnnxValue(Binary(Op.Sub, x, Binary(Op.Div, Binary(Op.Mul, Cast(rate, x.DType), gr), adaptive)));
            hs[i] = new OnnxValue(hNew);
        }

        return [.. xs, .. hs];
    }

    private static OnnxValue[] Momentum(NodeImport n)
    {
        int count = Groups(n, 3);
        double alpha = n.Attrs.Float("alpha", 0), beta = n.Attrs.Float("beta", 0);
        string mode = n.Attrs.String("mode", "standard");
        if (mode is not ("standard" or "nesterov")) throw n.Import($"mode '{mode}' is not defined");
        var (r, t) = RateAndStep(n);
        var betaAdjusted = Where(Binary(Op.Gt, t, Scalar(0, DType.F64)), Scalar(beta, DType.F64), Scalar(1, DType.F64));
        var xs = new OnnxValue[count];
        var vs = new OnnxValue[count];
        for (int i = 0; i < count; i++)
        {
            Node x = n.Input(2 + i), g = n.Input(2 + count + i), v = n.Input(2 + (2 * count) + i);
            var gr = Regularized(n, x, g);
            var vNew = Binary(Op.Add, Binary(Op.Mul, v, Scalar(alpha, v.DType)), Binary(Op.Mul, Cast(betaAdjusted, x.DType), gr));
            var step = mode == "standard" ? vNew : Binary(Op.Add, gr, Binary(Op.Mul, vNew, Scalar(alpha, x.DType)));
            xs[i] = new OnnxValue(Binary(Op.Sub, x, Binary(Op.Mul, Cast(r, x.DType), step)));
            vs[i] = new OnnxValue(vNew);
        }

        return [.. xs, .. vs];
    }

    private static OnnxValue[] Adam(NodeImport n)
    {
        int count = Groups(n, 4);
        double alpha = n.Attrs.Float("alpha", 0.9), beta = n.Attrs.Float("beta", 0.999), eps = n.Attrs.Float("epsilon", 1e-6);
        double post = n.Attrs.Float("norm_coefficient_post", 0);
        var (r, t) = RateAndStep(n);
        var corrected = Binary(Op.Div,
            Binary(Op.Mul, r, Unary(Op.Sqrt, Binary(Op.Sub, Scalar(1, DType.F64), Binary(Op.Pow, Scalar(beta, DType.F64), t)))),
            Binary(Op.Sub, Scalar(1, DType.F64), Binary(Op.Pow, Scalar(alpha, DType.F64), t)));
        var rate = Where(Binary(Op.Gt, t, Scalar(0, DType.F64)), corrected, r);
        var xs = new OnnxValue[count];
        var vs = new OnnxValue[count];
        var hs = new OnnxValue[count];
        for (int i = 0; i < count; i++)
        {
            Node x = n.Input(2 + i), g = n.Input(2 + count + i), v = n.Input(2 + (2 * count) + i), h = n.Input(2 + (3 * count) + i);
            var gr = Regularized(n, x, g);
            var vNew = Binary(Op.Add, Binary(Op.Mul, v, Scalar(alpha, v.DType)), Binary(Op.Mul, gr, Scalar(1 - alpha, x.DType)));
            var hNew = Binary(Op.Add, Binary(Op.Mul, h, Scalar(beta, h.DType)), Binary(Op.Mul, Binary(Op.Mul, gr, gr), Scalar(1 - beta, x.DType)));
            var hSqrt = Binary(Op.Add, Unary(Op.Sqrt, hNew), Scalar(eps, x.DType));
            var xNew = Binary(Op.Sub, x, Binary(Op.Mul, Cast(rate, x.DType), Binary(Op.Div, vNew, hSqrt)));
            xs[i] = new OnnxValue(post == 0 ? xNew : Binary(Op.Mul, xNew, Scalar(1 - post, x.DType)));
            vs[i] = new OnnxValue(vNew);
            hs[i] = new OnnxValue(hNew);
        }

        return [.. xs, .. vs, .. hs];
    }
}
