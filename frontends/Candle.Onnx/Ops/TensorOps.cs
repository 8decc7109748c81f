using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>Constants and conversions: Constant, ConstantOfShape, Identity, Cast, CastLike, Dropout (inference), Range.</summary>
internal static class TensorOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["Constant"] = ConstantOp;
        t["ConstantOfShape"] = n =>
        {
            var shape = ShapeOps.Dims(n, 0, "shape");
            if (shape.Any(d => d.TryGetConstant() is < 0)) throw n.Import($"shape [{string.Join(", ", shape.AsEnumerable())}] has a negative entry");
            var value = n.Attrs.Tensor("value");
            if (value is not null && value.ElementCount != 1) throw n.Import($"attribute 'value' has {value.ElementCount} elements, expected 1");
            return NodeImport.One(Full(value?.GetDouble(0) ?? 0.0, value?.DType ?? DType.F32, new Shape(shape)));
        };
        t["Identity"] = n => [n.Value(0)];
        t["Dropout"] = n =>
        {
            // Inference: the identity; ratio and training_mode (inputs since opset 12) must leave it so.
            if (n.Opset >= 12 && n.HasInput(2) && n.ConstInts(2, "training_mode").Any(v => v != 0))
            {
                bool zeroRatio = n.HasInput(1) && n.Input(1) is { } r && r.Op is Op.Constant or Op.Full && (r.Op == Op.Full ? r.Attr<FullAttrs>().Value : r.Attr<ConstantAttrs>().Data.GetDouble(0)) == 0;
                if (!zeroRatio) throw n.Import("training_mode=1 with a ratio other than 0 (random dropout) is not supported");
            }

            if (n.OutputCount < 2 || n.Proto.Output[1].Length == 0) return [n.Value(0)];
            return [n.Value(0), new OnnxValue(Full(1, DType.Bool, n.Input(0).Shape))];
        };
        t["Cast"] = n =>
        {
            int to = (int)Math.Clamp(n.Attrs.Int("to"), 0, 1000);
            if (OnnxDataTypes.IsCarried(to)) return CastToCarried(n, to);
            var dtype = OnnxDataTypes.ToDType(to) ?? throw n.Import($"cast to {OnnxDataTypes.Name(to)} is not supported");
            if (n.ShapeLike(0) is { } known && dtype is DType.I64 && known.Values.Any(d => !d.IsConstant)) return [n.Value(0)];
            return NodeImport.One(Cast(n.Input(0), dtype));
        };
        t["CastLike"] = n => n.Value(1).ElemType is not 0 and var like ? CastToCarried(n, like) : NodeImport.One(Cast(n.Input(0), n.Input(1).DType));
        t["Range"] = RangeOp;
    }

    /// <summary>
    /// Cast to a type the IR carries in a wider dtype: to integers as a C cast (truncation toward zero, wrapping), to the
    /// float8 types rounding half to even with saturation unless saturate=0, to float4 saturating.
    /// </summary>
    private static OnnxValue[] CastToCarried(NodeImport n, int to)
    {
        bool saturate = n.Attrs.Int("saturate", 1) != 0;
        var x = n.Input(0);
        if (to == 24 && n.Value(0).ElemType != 24) return [new OnnxValue(ToE8M0(n, x, saturate)) { ElemType = to }];
        var y = n.Value(0).ElemType == to ? x : OnnxNarrowing.FromAny(x, to, saturate);
        return [new OnnxValue(y) { ElemType = to }];
    }

    /// <summary>
    /// Cast to FLOAT8E8M0 (the powers 2^k, k in [−127, 127], and NaN) by round_mode of |x| (the sign of a negative input
    /// is unspecified and dropped): "up" to the least power at least |x|, "down" to the greatest at most |x|, "nearest"
    /// to the nearer of the two in value, ties up. With saturate=1 zero, values below 2^−127 and above 2^127 and
    /// infinities clamp to the ends, otherwise they give NaN (the spec's table); NaN stays NaN.
    /// </summary>
    private static Node ToE8M0(NodeImport n, Node x, bool saturate)
    {
        string mode = n.Attrs.String("round_mode", "up");
        if (mode is not ("up" or "down" or "nearest")) throw n.Import($"round_mode '{mode}' is not up, down or nearest");
        var a = Unary(Op.Abs, Cast(x, DType.F64));
        Node F64(double v) => Scalar(v, DType.F64);
        var positive = Binary(Op.LogicalAnd, Binary(Op.Gt, a, F64(0)), Binary(Op.Lt, a, F64(double.PositiveInfinity)));
        var safe = Where(positive, a, F64(1));
        // e = ⌊log₂ a⌋, corrected where the logarithm rounds across a power of two.
        var e = Unary(Op.Floor, Binary(Op.Div, Unary(Op.Log, safe), F64(Math.Log(2))));
        e = Binary(Op.Add, e, Cast(Binary(Op.Le, Binary(Op.Pow, F64(2), Binary(Op.Add, e, F64(1))), safe), DType.F64));
        e = Binary(Op.Sub, e, Cast(Binary(Op.Gt, Binary(Op.Pow, F64(2), e), safe), DType.F64));
        var power = Binary(Op.Pow, F64(2), e);
        var k = mode switch
        {
            "up" => Binary(Op.Add, e, Cast(Binary(Op.Gt, safe, power), DType.F64)),
            "nearest" => Binary(Op.Add, e, Cast(Binary(Op.Ge, safe, Binary(Op.Mul, power, F64(1.5))), DType.F64)),
            _ => e,
        };
        var low = Binary(Op.LogicalOr, Binary(Op.Eq, a, F64(0)), Binary(Op.Lt, k, F64(-127)));
        var high = Binary(Op.LogicalOr, Binary(Op.Eq, a, F64(double.PositiveInfinity)), Binary(Op.Gt, k, F64(127)));
        k = Where(low, saturate ? F64(-127) : F64(double.NaN), k);
        k = Where(high, saturate ? F64(127) : F64(double.NaN), k);
        // NaN (a NaN fails every comparison above) stays NaN.
        k = Where(Binary(Op.Le, a, F64(double.PositiveInfinity)), k, F64(double.NaN));
        return Cast(Binary(Op.Pow, F64(2), k), DType.F32);
    }

    private static OnnxValue[] ConstantOp(NodeImport n)
    {
        var a = n.Attrs;
        HostTensor? value = a.Tensor("value");
        if (value is null && a.Has("value_float")) value = HostTensor.FromArray([(float)a.Float("value_float", 0)], []);
        if (value is null && a.Has("value_int")) value = HostTensor.FromArray([a.Int("value_int")], []);
        if (value is null && a.Floats("value_floats") is { } fs) value = HostTensor.FromArray(fs, fs.Length);
        if (value is null && a.Ints("value_ints") is { } ints) value = HostTensor.FromArray(ints, ints.Length);
        if (value is null) throw n.Import($"value attribute '{a.Names.FirstOrDefault() ?? "(none)"}' is not supported");
        int code = n.Proto.Attribute.FirstOrDefault(at => at.Name == "value")?.T?.DataType ?? 0;
        return [new OnnxValue(Constant(value)) { ElemType = OnnxDataTypes.IsCarried(code) ? code : 0 }];
    }

    private static OnnxValue[] RangeOp(NodeImport n)
    {
        var dtype = n.Input(0).DType;
        double Scalar(int i)
        {
            var node = n.Input(i);
            if (node.Shape.Numel.TryGetConstant() != 1) throw n.Import($"input {i} must be a scalar, got {node.Shape}");
            return node.Op switch
            {
                Op.Constant => node.Attr<ConstantAttrs>().Data.GetDouble(0),
                Op.Full => node.Attr<FullAttrs>().Value,
                _ => throw n.Import($"needs input {i} to be a constant"),
            };
        }

        double start = Scalar(0), limit = Scalar(1), delta = Scalar(2);
        if (delta == 0) throw n.Import("delta is 0");
        double count = Math.Max(Math.Ceiling((limit - start) / delta), 0);
        if (count > int.MaxValue) throw n.Import($"{count} elements are too many");
        return NodeImport.One(Arange((long)count, dtype, start, delta));
    }
}
