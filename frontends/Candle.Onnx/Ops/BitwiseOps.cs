using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// BitwiseAnd, BitwiseOr, BitwiseXor and BitwiseNot of the integer types the IR holds (int8, uint8, int32, int64),
/// composed bit by bit in int64: bit k of v is ⌊v / 2ᵏ⌋ mod 2 (floor division and a non-negative remainder give the
/// two's-complement bits of negative values), combined per bit and summed back with the sign bit weighing −2ᵂ⁻¹.
/// BitwiseNot is −1 − v for signed types and 2ᵂ − 1 − v for unsigned ones.
/// </summary>
internal static class BitwiseOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["BitwiseAnd"] = n => BitByBit(n, (a, b) => Binary(Op.Mul, a, b));
        t["BitwiseOr"] = n => BitByBit(n, (a, b) => Binary(Op.Maximum, a, b));
        t["BitwiseXor"] = n => BitByBit(n, (a, b) => Unary(Op.Abs, Binary(Op.Sub, a, b)));
        t["BitwiseNot"] = n =>
        {
            var x = n.Input(0);
            Width(n, x.DType);
            var wide = Cast(x, DType.I64);
            var result = x.DType == DType.U8 ? Binary(Op.Sub, Scalar(255, DType.I64), wide) : Binary(Op.Sub, Scalar(-1, DType.I64), wide);
            return NodeImport.One(Cast(result, x.DType));
        };
    }

    private static int Width(NodeImport n, DType dtype) => dtype switch
    {
        DType.U8 or DType.I8 => 8,
        DType.I32 => 32,
        DType.I64 => 64,
        _ => throw n.Import($"is defined for integer tensors the IR holds (int8, uint8, int32, int64), got {dtype.TorchName()}"),
    };

    /// <summary>Combines the bits of both inputs (each 0 or 1 in int64) with <paramref name="bit"/> and sums them back.</summary>
    private static OnnxValue[] BitByBit(NodeImport n, Func<Node, Node, Node> bit)
    {
        Node a = n.Input(0), b = n.Input(1);
        if (a.DType != b.DType) throw n.Import($"inputs have different types ({a.DType.TorchName()} and {b.DType.TorchName()})");
        int width = Width(n, a.DType);
        bool signed = a.DType != DType.U8;
        Node wa = Cast(a, DType.I64), wb = Cast(b, DType.I64);
        Node? sum = null;
        for (int k = 0; k < width; k++)
        {
            // Bits above 62 of an int64 cannot be isolated by dividing by 2ᵏ in int64; the sign bit is the sign.
            Node Bit(Node v) => k == 63 ? Cast(Binary(Op.Lt, v, Scalar(0, DType.I64)), DType.I64)
                : Binary(Op.Remainder, Binary(Op.FloorDiv, v, Scalar(Math.Pow(2, k), DType.I64)), Scalar(2, DType.I64));
            var combined = bit(Bit(wa), Bit(wb));
            Node term = signed && k == width - 1
                ? (k == 63 ? Where(Binary(Op.Gt, combined, Scalar(0, DType.I64)), Scalar(long.MinValue, DType.I64), Scalar(0, DType.I64)) : Binary(Op.Mul, combined, Scalar(-Math.Pow(2, k), DType.I64)))
                : Binary(Op.Mul, combined, Scalar(Math.Pow(2, k), DType.I64));
            sum = sum is null ? term : Binary(Op.Add, sum, term);
        }

        return NodeImport.One(Cast(sum!, a.DType));
    }
}
