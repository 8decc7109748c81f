using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx;

/// <summary>
/// Brings values computed in a carrier dtype (<see cref="OnnxDataTypes.Carrier"/>) back into the value set of their ONNX
/// element type: integers wrap modulo 2^bits (two's complement for the signed ones, as a C cast does; uint64 shares
/// int64's bits and needs nothing), floats round half to even to the nearest value of their 8-bit or 4-bit format, with
/// saturation (out-of-range values clamp to the largest finite value, as Cast's saturate=1) or without (overflow becomes
/// infinity for FLOAT8E5M2 and NaN for the formats without infinities).
/// </summary>
internal static class OnnxNarrowing
{
    /// <summary><paramref name="x"/> (in the carrier of <paramref name="code"/>) brought into the values of <paramref name="code"/>.</summary>
    public static Node Narrow(Node x, int code, bool saturate = true)
    {
        var carrier = OnnxDataTypes.Carrier(code) ?? throw new ArgumentOutOfRangeException(nameof(code), code, "not a carried element type");
        if (x.DType != carrier) x = Cast(x, carrier);
        return code switch
        {
            5 => Wrap(x, 16, signed: true),
            4 => Wrap(x, 16, signed: false),
            12 => Wrap(x, 32, signed: false),
            22 => Wrap(x, 4, signed: true),
            21 => Wrap(x, 4, signed: false),
            26 => Wrap(x, 2, signed: true),
            25 => Wrap(x, 2, signed: false),
            17 or 18 or 19 or 20 or 23 => RoundToFormat(x, code, saturate),
            _ => x,
        };
    }

    /// <summary>An integer-valued node of any dtype converted to the carrier of <paramref name="code"/> as a C cast would (truncation toward zero, then wrapping).</summary>
    public static Node FromAny(Node x, int code, bool saturate = true)
    {
        var carrier = OnnxDataTypes.Carrier(code)!.Value;
        if (carrier.IsFloat()) return Narrow(Cast(x, DType.F32), code, saturate);
        return Narrow(Cast(x, DType.I64), code, saturate);
    }

    private static Node Wrap(Node x, int bits, bool signed)
    {
        var dtype = x.DType;
        var wide = Cast(x, DType.I64);
        double modulus = Math.Pow(2, bits);
        var y = signed
            ? Binary(Op.Sub, Binary(Op.Remainder, Binary(Op.Add, wide, Scalar(modulus / 2, DType.I64)), Scalar(modulus, DType.I64)), Scalar(modulus / 2, DType.I64))
            : Binary(Op.Remainder, wide, Scalar(modulus, DType.I64));
        return Cast(y, dtype);
    }

    private static Node RoundToFormat(Node x, int code, bool saturate)
    {
        var (_, mantissa, _, max, minExponent) = Float8.Format(code);
        var v = Cast(x, DType.F64);
        var a = Unary(Op.Abs, v);
        if (saturate || code == 23) a = Binary(Op.Minimum, a, Scalar(max, DType.F64));

        // e = ⌊log2 a⌋, corrected where the logarithm rounds across a power of two, at least the smallest normal exponent.
        var e = Unary(Op.Floor, Binary(Op.Div, Unary(Op.Log, a), Scalar(Math.Log(2), DType.F64)));
        e = Binary(Op.Add, e, Cast(Binary(Op.Le, Binary(Op.Pow, Scalar(2, DType.F64), Binary(Op.Add, e, Scalar(1, DType.F64))), a), DType.F64));
        e = Binary(Op.Sub, e, Cast(Binary(Op.Gt, Binary(Op.Pow, Scalar(2, DType.F64), e), a), DType.F64));
        e = Binary(Op.Maximum, e, Scalar(minExponent, DType.F64));
        var quantum = Binary(Op.Pow, Scalar(2, DType.F64), Binary(Op.Sub, e, Scalar(mantissa, DType.F64)));
        var r = Binary(Op.Mul, Unary(Op.Round, Binary(Op.Div, a, quantum)), quantum);
        if (!saturate && code != 23)
        {
            double overflow = code == 19 ? double.PositiveInfinity : double.NaN;
            var over = Binary(Op.LogicalOr, Binary(Op.Gt, r, Scalar(max, DType.F64)), Binary(Op.Eq, a, Scalar(double.PositiveInfinity, DType.F64)));
            r = Where(over, Scalar(overflow, DType.F64), r);
        }

        var signed = Where(Binary(Op.Lt, v, Scalar(0, DType.F64)), Unary(Op.Neg, r), r);

        // NaN stays NaN, except in FLOAT4E2M1, which has none: ONNX's reference gives its bits 0b1000 (negative zero).
        var result = Where(Binary(Op.Ne, v, v), Scalar(code == 23 ? -0.0 : double.NaN, DType.F64), signed);
        return Cast(result, DType.F32);
    }
}
