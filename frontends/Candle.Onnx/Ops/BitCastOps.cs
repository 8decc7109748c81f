using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// BitCast (opset 26) between element types of equal width, composed arithmetically in int64 and float64: the input's
/// bit pattern is computed as an integer (unsigned below 64 bits, int64's bits at 64), then read as the output type.
/// Integers reinterpret by adding or subtracting 2ᵂ; bool is 0 or 1 (a nonzero byte reads as true). Floats
/// (float16, bfloat16, float32, float64) split into sign, exponent and mantissa: the exponent is ⌊log₂|x|⌋ corrected
/// against a constant table of powers of two, the mantissa |x|·2⁻ᵉ scaled to an integer, all exact in float64; zeros
/// keep their sign, subnormals and infinities are exact. A NaN's payload and sign cannot be observed arithmetically: a
/// NaN gives the positive quiet NaN pattern. The float8, float4 and complex types are import errors.
/// </summary>
internal static class BitCastOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["BitCast"] = BitCast;

    /// <summary>A float format: exponent and mantissa bits.</summary>
    private readonly record struct FloatFormat(int Exponent, int Mantissa)
    {
        public int Bias => (1 << (Exponent - 1)) - 1;

        public int MinExponent => 1 - Bias;
    }

    private static OnnxValue[] BitCast(NodeImport n)
    {
        var input = n.Value(0);
        var x = n.Input(0);
        int from = input.ElemType != 0 ? input.ElemType : OnnxDataTypes.ToCode(x.DType);
        int to = (int)Math.Clamp(n.Attrs.Int("to"), 0, 1000);
        int width = Width(n, from), toWidth = Width(n, to);
        if (width != toWidth) throw n.Import($"cannot reinterpret {OnnxDataTypes.Name(from)} ({width} bits) as {OnnxDataTypes.Name(to)} ({toWidth} bits)");
        var carrier = OnnxDataTypes.Carrier(to)!.Value;
        int elemType = OnnxDataTypes.IsCarried(to) ? to : 0;
        if (from == to) return [input];
        var bits = ToBits(x, from, width);
        return [new OnnxValue(FromBits(bits, to, width, carrier)) { ElemType = elemType }];
    }

    /// <summary>The bit width of an element type; an import error for the types BitCast cannot reinterpret here.</summary>
    private static int Width(NodeImport n, int code) => code switch
    {
        9 or 2 or 3 => 8,
        4 or 5 or 10 or 16 => 16,
        1 or 6 or 12 => 32,
        7 or 11 or 13 => 64,
        21 or 22 => 4,
        25 or 26 => 2,
        _ => throw n.Import($"BitCast of {OnnxDataTypes.Name(code)} is not supported"),
    };

    private static FloatFormat? Format(int code) => code switch
    {
        10 => new FloatFormat(5, 10),
        16 => new FloatFormat(8, 7),
        1 => new FloatFormat(8, 23),
        11 => new FloatFormat(11, 52),
        _ => null,
    };

    private static bool IsSigned(int code) => code is 3 or 5 or 6 or 7 or 22 or 26;

    private static Node I64(double v) => Scalar(v, DType.I64);

    private static Node F64(double v) => Scalar(v, DType.F64);

    /// <summary>The bit pattern in int64: unsigned below 64 bits, int64's own bits at 64.</summary>
    private static Node ToBits(Node x, int code, int width)
    {
        if (Format(code) is { } f) return FloatBits(x, f, width);
        var v = Cast(x, DType.I64);
        if (width == 64 || !IsSigned(code)) return v;
        return Where(Binary(Op.Lt, v, I64(0)), Binary(Op.Add, v, I64(Math.Pow(2, width))), v);
    }

    /// <summary>The value of type <paramref name="code"/> with the bits <paramref name="bits"/>, in the carrier dtype.</summary>
    private static Node FromBits(Node bits, int code, int width, DType carrier)
    {
        if (code == 9) return Binary(Op.Ne, bits, I64(0));
        if (Format(code) is { } f) return Cast(FloatFromBits(bits, f, width), carrier);
        if (width == 64 || !IsSigned(code)) return Cast(bits, carrier);
        var signed = Where(Binary(Op.Ge, bits, I64(Math.Pow(2, width - 1))), Binary(Op.Sub, bits, I64(Math.Pow(2, width))), bits);
        return Cast(signed, carrier);
    }

    /// <summary>A constant table of 2^(sign·(lo + i)) for i in [0, hi − lo], indexed by exponent − lo.</summary>
    private static Node Powers(int lo, int hi, int sign)
    {
        var values = new double[hi - lo + 1];
        for (int i = 0; i < values.Length; i++) values[i] = Math.ScaleB(1.0, sign * (lo + i));
        return Constant(HostTensor.FromArray(values, values.Length));
    }

    /// <summary>table[index − lo] element by element (index int64 within the table).</summary>
    private static Node Lookup(Node table, Node index, int lo)
    {
        var flat = Reshape(Binary(Op.Sub, index, I64(lo)), new Shape(index.Shape.Numel));
        return Reshape(IndexSelect(table, 0, flat), index.Shape);
    }

    private static Node FloatBits(Node x, FloatFormat f, int width)
    {
        var d = Cast(x, DType.F64);
        var a = Unary(Op.Abs, d);
        var zero = Binary(Op.Eq, a, F64(0));
        var infinite = Binary(Op.Eq, a, F64(double.PositiveInfinity));
        var nan = Unary(Op.LogicalNot, Binary(Op.Le, a, F64(double.PositiveInfinity)));
        // −0 is told from +0 by the sign of its reciprocal.
        var negative = Binary(Op.LogicalOr, Binary(Op.Lt, d, F64(0)), Binary(Op.LogicalAnd, zero, Binary(Op.Lt, Binary(Op.Div, F64(1), d), F64(0))));
        var finite = Binary(Op.LogicalAnd, Binary(Op.Gt, a, F64(0)), Binary(Op.Lt, a, F64(double.PositiveInfinity)));
        var safe = Where(finite, a, F64(1));

        // ⌊log₂ a⌋ from the logarithm, then corrected by one either way against exact powers of two.
        int lo = f.MinExponent - f.Mantissa - 1, hi = f.Bias + 1;
        var powers = Powers(lo, hi, 1);
        var estimate = Binary(Op.Mul, Unary(Op.Log, safe), F64(1 / Math.Log(2)));
        var e = Cast(Binary(Op.Minimum, Binary(Op.Maximum, Unary(Op.Floor, estimate), F64(lo + 1)), F64(hi - 1)), DType.I64);
        e = Binary(Op.Sub, e, Cast(Binary(Op.Gt, Lookup(powers, e, lo), safe), DType.I64));
        e = Binary(Op.Add, e, Cast(Binary(Op.Le, Lookup(powers, Binary(Op.Add, e, I64(1)), lo), safe), DType.I64));

        var normal = Binary(Op.Ge, e, I64(f.MinExponent));
        var normalExponent = Binary(Op.Maximum, e, I64(f.MinExponent));
        var inverse = Lookup(Powers(f.MinExponent, f.Bias, -1), normalExponent, f.MinExponent);
        var normalMantissa = Binary(Op.Mul, Binary(Op.Sub, Binary(Op.Mul, safe, inverse), F64(1)), F64(Math.ScaleB(1.0, f.Mantissa)));
        // a·2^(mantissa bits − min exponent) in two steps: the single factor 2^1074 of float64 overflows.
        var subnormalMantissa = Binary(Op.Mul, Binary(Op.Mul, safe, F64(Math.ScaleB(1.0, f.Mantissa))), F64(Math.ScaleB(1.0, -f.MinExponent)));
        var mantissa = Cast(Where(normal, normalMantissa, subnormalMantissa), DType.I64);
        var exponentField = Where(normal, Binary(Op.Add, e, I64(f.Bias)), I64(0));
        var magnitude = Binary(Op.Add, Binary(Op.Mul, exponentField, I64(Math.ScaleB(1.0, f.Mantissa))), mantissa);

        double infBits = Math.ScaleB((1 << f.Exponent) - 1, f.Mantissa);
        magnitude = Where(zero, I64(0), magnitude);
        magnitude = Where(infinite, I64(infBits), magnitude);
        magnitude = Where(nan, I64(infBits + Math.ScaleB(1.0, f.Mantissa - 1)), magnitude);
        // The sign bit: 2^(W−1) below 64 bits; at 64, int64's sign (magnitude < 2^63, so adding −2^63 cannot overflow).
        double sign = width == 64 ? long.MinValue : Math.ScaleB(1.0, width - 1);
        return Where(Binary(Op.LogicalAnd, negative, Unary(Op.LogicalNot, nan)), Binary(Op.Add, magnitude, I64(sign)), magnitude);
    }

    private static Node FloatFromBits(Node bits, FloatFormat f, int width)
    {
        // Floor division and a non-negative remainder read the fields of negative int64 patterns too.
        var mantissa = Binary(Op.Remainder, bits, I64(Math.ScaleB(1.0, f.Mantissa)));
        var exponent = Binary(Op.Remainder, Binary(Op.FloorDiv, bits, I64(Math.ScaleB(1.0, f.Mantissa))), I64(1 << f.Exponent));
        var negative = width == 64 ? Binary(Op.Lt, bits, I64(0)) : Binary(Op.Ge, bits, I64(Math.ScaleB(1.0, width - 1)));

        var m = Cast(mantissa, DType.F64);
        int top = (1 << f.Exponent) - 1;
        // scales[E] = 2^(E − bias − mantissa bits) for the exponent fields 1 .. top − 1 (entry 0 unused).
        var scales = Powers(-f.Bias - f.Mantissa, top - f.Bias - f.Mantissa, 1);
        var normal = Binary(Op.Mul, Binary(Op.Add, m, F64(Math.ScaleB(1.0, f.Mantissa))), Lookup(scales, exponent, 0));
        var subnormal = Binary(Op.Mul, m, F64(Math.ScaleB(1.0, f.MinExponent - f.Mantissa)));
        var special = Where(Binary(Op.Eq, mantissa, I64(0)), F64(double.PositiveInfinity), F64(double.NaN));
        var magnitude = Where(Binary(Op.Eq, exponent, I64(0)), subnormal, Where(Binary(Op.Eq, exponent, I64(top)), special, normal));
        return Where(negative, Binary(Op.Mul, magnitude, F64(-1)), magnitude);
    }
}
