using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Elementwise math and logic: unary ops, binary ops with numpy broadcasting (multidirectional since opset 7), variadic
/// Sum/Mean/Max/Min, Where. ONNX keeps the input type where the IR would promote (integer Div, Pow), so results are
/// cast back.
/// </summary>
internal static class ElementwiseOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        foreach (var (name, op) in new (string, Op)[]
        {
            ("Abs", Op.Abs), ("Neg", Op.Neg), ("Exp", Op.Exp), ("Log", Op.Log), ("Sqrt", Op.Sqrt), ("Sin", Op.Sin), ("Cos", Op.Cos),
            ("Erf", Op.Erf), ("Floor", Op.Floor), ("Ceil", Op.Ceil), ("Round", Op.Round), ("Sign", Op.Sign), ("Reciprocal", Op.Reciprocal),
        })
        {
            t[name] = n => NodeImport.One(Cast(Unary(op, n.Input(0)), n.Input(0).DType));
        }

        t["Sinh"] = n => NodeImport.One(Hyperbolic(n.Input(0), -1));
        t["Cosh"] = n => NodeImport.One(Hyperbolic(n.Input(0), 1));
        t["Asinh"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Unary(Op.Log, Binary(Op.Add, x, Unary(Op.Sqrt, Binary(Op.Add, Binary(Op.Mul, x, x), Scalar(1, x.DType))))));
        };
        t["Acosh"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Unary(Op.Log, Binary(Op.Add, x, Unary(Op.Sqrt, Binary(Op.Sub, Binary(Op.Mul, x, x), Scalar(1, x.DType))))));
        };
        t["Atanh"] = n =>
        {
            var x = n.Input(0);
            var ratio = Binary(Op.Div, Binary(Op.Add, Scalar(1, x.DType), x), Binary(Op.Sub, Scalar(1, x.DType), x));
            return NodeImport.One(Binary(Op.Mul, Unary(Op.Log, ratio), Scalar(0.5, x.DType)));
        };
        t["IsNaN"] = n => NodeImport.One(Binary(Op.Ne, n.Input(0), n.Input(0)));
        t["IsInf"] = n =>
        {
            var x = n.Input(0);
            bool pos = n.Attrs.Int("detect_positive", 1) != 0, neg = n.Attrs.Int("detect_negative", 1) != 0;
            var isPos = Binary(Op.Eq, x, Scalar(double.PositiveInfinity, x.DType));
            var isNeg = Binary(Op.Eq, x, Scalar(double.NegativeInfinity, x.DType));
            return NodeImport.One(pos && neg ? Binary(Op.LogicalOr, isPos, isNeg) : pos ? isPos : neg ? isNeg : Full(0, DType.Bool, x.Shape));
        };
        t["Not"] = n => NodeImport.One(Unary(Op.LogicalNot, n.Input(0)));
        t["Atan"] = n => NodeImport.One(Atan(n.Input(0)));
        t["Asin"] = n => NodeImport.One(Asin(n.Input(0)));
        t["Acos"] = n =>
        {
            var x = n.Input(0);
            return NodeImport.One(Binary(Op.Sub, Scalar(Math.PI / 2, x.DType), Asin(x)));
        };
        t["Tan"] = n => NodeImport.One(Binary(Op.Div, Unary(Op.Sin, n.Input(0)), Unary(Op.Cos, n.Input(0))));

        t["Add"] = n => SymbolicArithmetic(n, (a, b) => a + b) ?? NodeImport.One(Broadcasting(n, Op.Add));
        t["Sub"] = n => SymbolicArithmetic(n, (a, b) => a - b) ?? NodeImport.One(Broadcasting(n, Op.Sub));
        t["Mul"] = n => SymbolicArithmetic(n, (a, b) => a * b) ?? NodeImport.One(Broadcasting(n, Op.Mul));
        foreach (var (name, op) in new (string, Op)[]
        {
            ("Equal", Op.Eq), ("Less", Op.Lt), ("LessOrEqual", Op.Le), ("Greater", Op.Gt), ("GreaterOrEqual", Op.Ge),
            ("And", Op.LogicalAnd), ("Or", Op.LogicalOr), ("Xor", Op.Ne),
        })
        {
            t[name] = n => NodeImport.One(Broadcasting(n, op));
        }

        t["Div"] = Div;
        t["Pow"] = n => NodeImport.One(Cast(Binary(Op.Pow, n.Input(0), n.Input(1)), n.Input(0).DType)); // base and exponent types may differ
        t["Mod"] = Mod;
        t["BitShift"] = BitShift;
        t["Max"] = n => Variadic(n, (a, b) => Binary(Op.Maximum, a, b));
        t["Min"] = n => Variadic(n, (a, b) => Binary(Op.Minimum, a, b));
        t["Sum"] = n => Variadic(n, (a, b) => Binary(Op.Add, a, b));
        t["Mean"] = n =>
        {
            var sum = Variadic(n, (a, b) => Binary(Op.Add, a, b))[0].Node!;
            return NodeImport.One(Binary(Op.Div, sum, Scalar(n.InputCount, sum.DType)));
        };
        t["Where"] = n => NodeImport.One(Where(n.Input(0), n.Input(1), n.Input(2)));
    }

    /// <summary>sinh (sign −1) or cosh (sign +1): (eˣ ± e⁻ˣ) / 2.</summary>
    private static Node Hyperbolic(Node x, int sign)
    {
        var e = Unary(Op.Exp, x);
        var eNeg = Unary(Op.Exp, Unary(Op.Neg, x));
        return Binary(Op.Mul, Binary(sign < 0 ? Op.Sub : Op.Add, e, eNeg), Scalar(0.5, e.DType));
    }

    /// <summary>
    /// arctan: three halvings atan(x) = 2·atan(x / (1 + √(1 + x²))) bring any argument within tan(π/16) ≈ 0.2, where
    /// the odd Taylor series to x¹³ is exact to about 1e-11; then ×8.
    /// </summary>
    private static Node Atan(Node x)
    {
        var u = x;
        for (int i = 0; i < 3; i++) u = Binary(Op.Div, u, Binary(Op.Add, Scalar(1, x.DType), Unary(Op.Sqrt, Binary(Op.Add, Scalar(1, x.DType), Binary(Op.Mul, u, u)))));
        return Binary(Op.Mul, AtanSeries(u), Scalar(8, x.DType));
    }

    /// <summary>arcsin: 2·atan(x / (1 + √(1 − x²))), whose argument stays within [−1, 1] (two more halvings suffice).</summary>
    private static Node Asin(Node x)
    {
        var u = Binary(Op.Div, x, Binary(Op.Add, Scalar(1, x.DType), Unary(Op.Sqrt, Binary(Op.Sub, Scalar(1, x.DType), Binary(Op.Mul, x, x)))));
        for (int i = 0; i < 2; i++) u = Binary(Op.Div, u, Binary(Op.Add, Scalar(1, x.DType), Unary(Op.Sqrt, Binary(Op.Add, Scalar(1, x.DType), Binary(Op.Mul, u, u)))));
        return Binary(Op.Mul, AtanSeries(u), Scalar(8, x.DType));
    }

    /// <summary>u − u³/3 + u⁵/5 − ... + u¹³/13 in Horner form over −u².</summary>
    private static Node AtanSeries(Node u)
    {
        var negU2 = Unary(Op.Neg, Binary(Op.Mul, u, u));
        Node acc = Scalar(1.0 / 13, u.DType);
        for (int k = 11; k >= 1; k -= 2)
        {
            acc = Binary(Op.Add, Scalar(1.0 / k, u.DType), Binary(Op.Mul, acc, negU2));
        }

        return Binary(Op.Mul, acc, u);
    }

    /// <summary>A binary op; before opset 7 broadcasting needed the broadcast attribute and an axis.</summary>
    internal static Node Broadcasting(NodeImport n, Op op)
    {
        Node a = n.Input(0), b = n.Input(1);
        if (n.Opset < 7 && n.Attrs.Int("broadcast", 0) == 1 && n.Attrs.Has("axis"))
        {
            int axis = n.Axis(n.Attrs.Int("axis"), a.Shape.Rank);
            int trailing = a.Shape.Rank - axis - b.Shape.Rank;
            if (trailing < 0) throw n.Import($"cannot broadcast {b.Shape} into {a.Shape} at axis {axis}");
            b = Reshape(b, new Shape(b.Shape.Concat(Enumerable.Repeat(Dim.One, trailing))));
        }

        if (a.DType != b.DType && op.BinaryRule() != BinaryTyping.Logical)
        {
            throw n.Import($"inputs have different types ({a.DType.TorchName()} and {b.DType.TorchName()})");
        }

        return Binary(op, a, b);
    }

    /// <summary>
    /// Arithmetic on int64 values known at import time when one of them holds symbolic dims (a Shape entry plus one):
    /// folded into dims, elementwise with a scalar broadcast; null when the inputs are not such values.
    /// </summary>
    private static OnnxValue[]? SymbolicArithmetic(NodeImport n, Func<Dim, Dim, Dim?> combine)
    {
        if (n.InputCount != 2 || n.ShapeLike(0) is not { } a || n.ShapeLike(1) is not { } b) return null;
        if (a.Values.All(d => d.IsConstant) && b.Values.All(d => d.IsConstant)) return null;
        int len = Math.Max(a.Values.Length, b.Values.Length);
        if (a.Values.Length != len && a.Values.Length != 1 || b.Values.Length != len && b.Values.Length != 1) return null;
        var result = new Dim[len];
        for (int i = 0; i < len; i++)
        {
            var d = combine(a.Values[a.Values.Length == 1 ? 0 : i], b.Values[b.Values.Length == 1 ? 0 : i]);
            if (d is null) return null;
            result[i] = d;
        }

        return [OnnxValue.FromDims(result, a.Scalar && b.Scalar)];
    }

    private static OnnxValue[] Div(NodeImport n)
    {
        if (SymbolicArithmetic(n, (a, b) => b.TryGetConstant() is long c && c > 0 ? a / c : null) is { } folded) return folded;

        Node a = n.Input(0);
        if (a.DType.IsFloat()) return NodeImport.One(Broadcasting(n, Op.Div));

        // Integer division truncates toward zero (the quotient converted back to the input type).
        var q = Binary(Op.Div, Cast(a, DType.F64), Cast(n.Input(1), DType.F64));
        return NodeImport.One(Cast(q, a.DType));
    }

    private static OnnxValue[] Mod(NodeImport n)
    {
        Node a = n.Input(0), b = n.Input(1);
        if (n.Attrs.Int("fmod", 0) == 0)
        {
            if (a.DType.IsFloat()) throw n.Import("fmod=0 is only defined for integer inputs");
            return NodeImport.One(Binary(Op.Remainder, a, b));
        }

        // fmod: the remainder has the sign of the dividend, a - trunc(a / b) * b.
        var af = Cast(a, DType.F64);
        var bf = Cast(b, DType.F64);
        var q = Binary(Op.Div, af, bf);
        var trunc = Where(Binary(Op.Lt, q, Scalar(0, DType.F64)), Unary(Op.Ceil, q), Unary(Op.Floor, q));
        return NodeImport.One(Cast(Binary(Op.Sub, af, Binary(Op.Mul, trunc, bf)), a.DType));
    }

    private static OnnxValue[] Variadic(NodeImport n, Func<Node, Node, Node> combine)
    {
        if (n.InputCount == 0) throw n.Format("needs at least one input");
        Node acc = n.Input(0);
        for (int i = 1; i < n.InputCount; i++) acc = combine(acc, n.Input(i));
        return NodeImport.One(acc);
    }

    /// <summary>
    /// BitShift of unsigned integers (uint8, and uint16/uint32/uint64 in their carriers): x·2^y modulo 2^width to the
    /// left, ⌊x / 2^y⌋ to the right, computed in int64 with the shift capped at the width (everything shifted out; uint64
    /// shares int64's bits, so its values and shifts stay below 2^63).
    /// </summary>
    private static OnnxValue[] BitShift(NodeImport n)
    {
        Node x = n.Input(0), y = n.Input(1);
        int code = n.Value(0).ElemType;
        int width = x.DType == DType.U8 && code == 0 ? 8 : code switch { 4 => 16, 12 => 32, 13 => 64, _ => 0 };
        if (width == 0 || n.Value(1).ElemType != code || y.DType != x.DType)
        {
            throw n.Import($"shifts unsigned integers (uint8, uint16, uint32, uint64); got {OnnxDataTypes.Name(code == 0 ? OnnxDataTypes.ToCode(x.DType) : code)} and {OnnxDataTypes.Name(n.Value(1).ElemType == 0 ? OnnxDataTypes.ToCode(y.DType) : n.Value(1).ElemType)}");
        }

        string direction = n.Attrs.String("direction", string.Empty);
        if (direction is not ("LEFT" or "RIGHT")) throw n.Import($"direction '{direction}' is not defined (LEFT or RIGHT)");
        var shift = Binary(Op.Minimum, Cast(y, DType.F64), Scalar(Math.Min(width, 63), DType.F64));
        var power = Cast(Binary(Op.Pow, Scalar(2, DType.F64), shift), DType.I64);
        var wide = Cast(x, DType.I64);
        var product = Binary(Op.Mul, wide, power);
        var result = direction == "LEFT"
            ? width == 64 ? product : Binary(Op.Remainder, product, Scalar(Math.Pow(2, width), DType.I64))
            : Binary(Op.FloorDiv, wide, power);
        return NodeImport.One(Cast(result, x.DType));
    }
}
