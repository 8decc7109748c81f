using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Activations: the IR's own (Relu, Sigmoid, Tanh, Gelu, Softplus, Mish, Softmax, LogSoftmax) and compositions of IR
/// ops for the parameterized ones (LeakyRelu, Elu, Selu, Celu, HardSigmoid, HardSwish, Softsign, PRelu, Clip,
/// ThresholdedRelu, Swish, Shrink).
/// </summary>
internal static class ActivationOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        foreach (var (name, op) in new (string, Op)[] { ("Relu", Op.Relu), ("Sigmoid", Op.Sigmoid), ("Tanh", Op.Tanh), ("Softplus", Op.Softplus), ("Mish", Op.Mish) })
        {
            t[name] = n => NodeImport.One(Unary(op, n.Input(0)));
        }

        t["Gelu"] = n => n.Attrs.String("approximate", "none") switch
        {
            "none" => NodeImport.One(Unary(Op.Gelu, n.Input(0))),
            "tanh" => NodeImport.One(Unary(Op.GeluTanh, n.Input(0))),
            var other => throw n.Import($"approximate='{other}' is not defined"),
        };
        t["Softmax"] = n => NodeImport.One(SoftmaxLike(n, Softmax));
        t["LogSoftmax"] = n => NodeImport.One(SoftmaxLike(n, LogSoftmax));
        t["LeakyRelu"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Where(Binary(Op.Lt, x, Scalar(0, x.DType)), Mul(x, n.Attrs.Float("alpha", 0.01)), x));
        };
        t["PRelu"] = n =>
        {
            Node x = n.Input(0), slope = n.Input(1);
            return NodeImport.One(Where(Binary(Op.Lt, x, Scalar(0, x.DType)), Binary(Op.Mul, x, slope), x));
        };
        t["ThresholdedRelu"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Where(Binary(Op.Gt, x, Scalar(n.Attrs.Float("alpha", 1.0), x.DType)), x, Scalar(0, x.DType)));
        };
        t["Elu"] = n => NodeImport.One(Elu(n.Input(0), n.Attrs.Float("alpha", 1.0)));
        t["Celu"] = n =>
        {
            var x = n.Input(0);
            double alpha = n.Attrs.Float("alpha", 1.0);
            var neg = Mul(Binary(Op.Sub, Unary(Op.Exp, Mul(x, 1 / alpha)), Scalar(1, x.DType)), alpha);
            return NodeImport.One(Binary(Op.Add, Binary(Op.Maximum, x, Scalar(0, x.DType)), Binary(Op.Minimum, neg, Scalar(0, x.DType))));
        };
        t["Selu"] = n =>
        {
            var x = n.Input(0);
            double alpha = n.Attrs.Float("alpha", 1.67326319217681884765625), gamma = n.Attrs.Float("gamma", 1.05070102214813232421875);
            return NodeImport.One(Mul(Elu(x, alpha), gamma));
        };
        t["HardSigmoid"] = n => NodeImport.One(HardSigmoid(n.Input(0), n.Attrs.Float("alpha", 0.2), n.Attrs.Float("beta", 0.5)));
        t["HardSwish"] = n => NodeImport.One(Binary(Op.Mul, n.Input(0), HardSigmoid(n.Input(0), 1.0 / 6, 0.5)));
        t["Softsign"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Binary(Op.Div, x, Binary(Op.Add, Unary(Op.Abs, x), Scalar(1, x.DType))));
        };
        t["Clip"] = Clip;
        t["Swish"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Binary(Op.Mul, x, Unary(Op.Sigmoid, Mul(x, n.Attrs.Float("alpha", 1.0)))));
        };
        t["Shrink"] = n =>
        {
            var x = n.Input(0);
            double lambd = n.Attrs.Float("lambd", 0.5), bias = n.Attrs.Float("bias", 0);
            var below = Binary(Op.Add, x, Scalar(bias, x.DType));
            var above = Binary(Op.Sub, x, Scalar(bias, x.DType));
            var y = Where(Binary(Op.Lt, x, Scalar(-lambd, x.DType)), below, Where(Binary(Op.Gt, x, Scalar(lambd, x.DType)), above, Scalar(0, x.DType)));
            return NodeImport.One(Cast(y, x.DType));
        };
    }

    private static Node Mul(Node x, double c) => Binary(Op.Mul, x, Scalar(c, x.DType));

    private static Node Elu(Node x, double alpha) =>
        Where(Binary(Op.Lt, x, Scalar(0, x.DType)), Mul(Binary(Op.Sub, Unary(Op.Exp, x), Scalar(1, x.DType)), alpha), x);

    private static Node HardSigmoid(Node x, double alpha, double beta)
    {
        var y = Binary(Op.Add, Mul(x, alpha), Scalar(beta, x.DType));
        return Binary(Op.Minimum, Binary(Op.Maximum, y, Scalar(0, x.DType)), Scalar(1, x.DType));
    }

    /// <summary>Softmax and LogSoftmax: over one axis (default −1) since opset 13, over the 2-d coercion at axis (default 1) before.</summary>
    private static Node SoftmaxLike(NodeImport n, Func<Node, int, Node> f)
    {
        var x = n.Input(0);
        if (n.Opset >= 13) return f(x, n.Axis(n.Attrs.Int("axis", -1), x.Shape.Rank));
        int axis = n.Axis(n.Attrs.Int("axis", 1), Math.Max(x.Shape.Rank, 1));
        var outer = x.Shape.Take(axis).Aggregate(Dim.One, (a, d) => a * d);
        var inner = x.Shape.Skip(axis).Aggregate(Dim.One, (a, d) => a * d);
        return Reshape(f(Reshape(x, new Shape(outer, inner)), 1), x.Shape);
    }

    /// <summary>Clip: min and max as attributes before opset 11, as optional inputs since.</summary>
    private static OnnxValue[] Clip(NodeImport n)
    {
        var x = n.Input(0);
        Node? lo, hi;
        if (n.Opset < 11)
        {
            lo = n.Attrs.Has("min") ? Scalar(n.Attrs.Float("min", 0), x.DType) : null;
            hi = n.Attrs.Has("max") ? Scalar(n.Attrs.Float("max", 0), x.DType) : null;
        }
        else
        {
            lo = n.OptionalInput(1);
            hi = n.OptionalInput(2);
        }

        if (lo is not null) x = Cast(Binary(Op.Maximum, x, lo), x.DType);
        if (hi is not null) x = Cast(Binary(Op.Minimum, x, hi), x.DType);
        return NodeImport.One(x);
    }
}
