using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Linear quantization composed of IR ops: QuantizeLinear (saturate(round_half_even(x / scale) + zero_point)),
/// DequantizeLinear ((x − zero_point) · scale), per tensor, per axis or per block, DynamicQuantizeLinear, and the
/// integer products MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv, computed on the widened integers in
/// float64 (exact: every product and sum of 8-bit values stays far below 2⁵³). Element types the IR has no dtype for
/// (int4, int16, float8 ...) are refused naming the type.
/// </summary>
internal static class QuantizeOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["QuantizeLinear"] = QuantizeLinear;
        t["DequantizeLinear"] = DequantizeLinear;
        t["DynamicQuantizeLinear"] = DynamicQuantizeLinear;
        t["MatMulInteger"] = n =>
        {
            var a = Widen(n, 0, 2, rowAxis: true);
            var b = Widen(n, 1, 3, rowAxis: false);
            return NodeImport.One(Cast(MatMul(a, b), DType.I32));
        };
        t["QLinearMatMul"] = n =>
        {
            var a = Widen(n, 0, 2, rowAxis: true);
            var b = Widen(n, 3, 5, rowAxis: false);
            var product = MatMul(a, b);
            var scale = Binary(Op.Div, Binary(Op.Mul, ScaleOf(n, 1, product, rowAxis: true), ScaleOf(n, 4, product, rowAxis: false)), ScaleOf(n, 6, product, rowAxis: false));
            return NodeImport.One(Requantize(n, Binary(Op.Mul, product, scale), 7));
        };
        t["ConvInteger"] = n =>
        {
            var x = Widen(n, 0, 2, rowAxis: false, channelAxis: 1);
            var w = Widen(n, 1, 3, rowAxis: false, channelAxis: 0);
            return NodeImport.One(Cast(ConvOps.ConvOf(n, x, w, null), DType.I32));
        };
        t["QLinearConv"] = n =>
        {
            var x = Widen(n, 0, 2, rowAxis: false, channelAxis: 1);
            var w = Widen(n, 3, 5, rowAxis: false, channelAxis: 0);
            var y = ConvOps.ConvOf(n, x, w, null);
            if (n.OptionalInput(8) is { } bias) y = Binary(Op.Add, y, Reshape(Cast(bias, DType.F64), new Shape([Dim.One, bias.Shape[0], .. Enumerable.Repeat(Dim.One, y.Shape.Rank - 2)])));
            var scale = Binary(Op.Div, Binary(Op.Mul, ScaleOf(n, 1, y, rowAxis: false), ScaleOf(n, 4, y, rowAxis: false, channelAxis: 1)), ScaleOf(n, 6, y, rowAxis: false));
            return NodeImport.One(Requantize(n, Binary(Op.Mul, y, scale), 7));
        };
    }

    private static OnnxValue[] QuantizeLinear(NodeImport n)
    {
        var x = n.Input(0);
        int target = n.HasInput(2) ? (n.Value(2).ElemType is not 0 and var zpType ? zpType : OnnxDataTypes.ToCode(n.Input(2).DType)) : OutputCode(n, 2);
        var (axis, block) = AxisAndBlock(n);
        var scale = Cast(Broadcastable(n, n.Input(1), x, axis, block, "y_scale"), DType.F32);
        var real = Binary(Op.Div, Cast(x, DType.F32), scale);
        int carried = OnnxDataTypes.IsCarried(target) ? target : 0;
        if (target is 17 or 18 or 19 or 20 or 23)
        {
            // Float targets: x / scale (+ a zero point, which the spec requires to be 0) cast with saturation unless saturate=0.
            if (n.OptionalInput(2) is { } fzp) real = Binary(Op.Add, real, Cast(Broadcastable(n, fzp, x, axis, block, "y_zero_point"), DType.F32));
            return [new OnnxValue(OnnxNarrowing.Narrow(real, target, n.Attrs.Int("saturate", 1) != 0)) { ElemType = target }];
        }

        var (min, max) = IntegerRange(target) ?? throw n.Import($"quantizing to {OnnxDataTypes.Name(target)} is not supported");
        var q = Unary(Op.Round, real);
        if (n.OptionalInput(2) is { } zp) q = Binary(Op.Add, q, Cast(Broadcastable(n, zp, x, axis, block, "y_zero_point"), DType.F32));
        var dtype = OnnxDataTypes.Carrier(target)!.Value;
        var y = Cast(Binary(Op.Minimum, Binary(Op.Maximum, q, Scalar(min, q.DType)), Scalar(max, q.DType)), dtype);
        return [new OnnxValue(y) { ElemType = carried }];
    }

    /// <summary>The values of an integer quantization type (uint8, int8, uint16, int16, uint4, int4, uint2, int2), or null.</summary>
    private static (double Min, double Max)? IntegerRange(int code) => code switch
    {
        2 => (0, 255),
        3 => (-128, 127),
        4 => (0, 65535),
        5 => (-32768, 32767),
        21 => (0, 15),
        22 => (-8, 7),
        25 => (0, 3),
        26 => (-2, 1),
        _ => null,
    };

    /// <summary>The output_dtype attribute (opset 21+) as an element type code, or <paramref name="fallback"/> when absent or 0.</summary>
    private static int OutputCode(NodeImport n, int fallback)
    {
        long code = n.Attrs.Int("output_dtype", 0);
        return code == 0 ? fallback : (int)Math.Clamp(code, 0, 1000);
    }

    private static OnnxValue[] DequantizeLinear(NodeImport n)
    {
        var x = n.Input(0);
        if (x.DType is not (DType.U8 or DType.I8 or DType.I32) && n.Value(0).ElemType == 0) throw n.Import($"dequantizing {x.DType.TorchName()} is not supported");
        var (axis, block) = AxisAndBlock(n);
        var scaleIn = n.Input(1);
        DType output = OutputDType(n, scaleIn.DType);
        var scale = Cast(Broadcastable(n, scaleIn, x, axis, block, "x_scale"), DType.F32);
        var v = Cast(x, DType.F32);
        if (n.OptionalInput(2) is { } zp) v = Binary(Op.Sub, v, Cast(Broadcastable(n, zp, x, axis, block, "x_zero_point"), DType.F32));
        return NodeImport.One(Cast(Binary(Op.Mul, v, scale), output));
    }

    /// <summary>
    /// The uint8 quantization of x over [min(0, min x), max(0, max x)]: scale = range / 255, zero point the rounded,
    /// saturated −min / scale; outputs y, the scale and the zero point.
    /// </summary>
    private static OnnxValue[] DynamicQuantizeLinear(NodeImport n)
    {
        var x = Cast(n.Input(0), DType.F32);
        if (n.Input(0).DType != DType.F32) throw n.Import($"needs a float32 input, got {n.Input(0).DType.TorchName()}");
        var lo = Binary(Op.Minimum, IrBuilder.Reduce(Op.Min, x), Scalar(0, DType.F32));
        var hi = Binary(Op.Maximum, IrBuilder.Reduce(Op.Max, x), Scalar(0, DType.F32));
        var scale = Binary(Op.Div, Binary(Op.Sub, hi, lo), Scalar(255, DType.F32));
        var zeroPoint = Saturate(Unary(Op.Round, Binary(Op.Sub, Scalar(0, DType.F32), Binary(Op.Div, lo, scale))), DType.U8);
        var y = Saturate(Binary(Op.Add, Unary(Op.Round, Binary(Op.Div, x, scale)), Cast(zeroPoint, DType.F32)), DType.U8);
        return [new OnnxValue(y), new OnnxValue(scale), new OnnxValue(zeroPoint)];
    }

    /// <summary>Clamps to the range of an 8-bit integer type, then converts (the values are already whole).</summary>
    private static Node Saturate(Node q, DType target)
    {
        var (min, max) = target == DType.U8 ? (0.0, 255.0) : (-128.0, 127.0);
        return Cast(Binary(Op.Minimum, Binary(Op.Maximum, q, Scalar(min, q.DType)), Scalar(max, q.DType)), target);
    }

    /// <summary>Rounds (half to even), adds the zero point of input <paramref name="zpIndex"/> and saturates to its type.</summary>
    private static Node Requantize(NodeImport n, Node real, int zpIndex)
    {
        var zp = n.Input(zpIndex);
        if (zp.DType is not (DType.U8 or DType.I8)) throw n.Import($"quantizing to {zp.DType.TorchName()} is not supported");
        var q = Binary(Op.Add, Unary(Op.Round, real), Cast(ScalarLike(n, zp, "y_zero_point"), real.DType));
        return Saturate(q, zp.DType);
    }

    /// <summary>
    /// Input <paramref name="i"/> minus its zero point (input <paramref name="zpIndex"/>) as float64. A 1-d zero point
    /// is per row of A (<paramref name="rowAxis"/>), per column of B, or per channel at <paramref name="channelAxis"/>.
    /// </summary>
    private static Node Widen(NodeImport n, int i, int zpIndex, bool rowAxis, int? channelAxis = null)
    {
        var x = n.Input(i);
        if (x.DType is not (DType.U8 or DType.I8)) throw n.Import($"input {i} is {x.DType.TorchName()}; 8-bit integers are expected");
        var v = Cast(x, DType.F64);
        if (n.OptionalInput(zpIndex) is not { } zp) return v;
        if (zp.DType != x.DType) throw n.Import($"zero point (input {zpIndex}) is {zp.DType.TorchName()}, but input {i} is {x.DType.TorchName()}");
        return Binary(Op.Sub, v, Cast(PerVector(n, zp, x, rowAxis, channelAxis, $"input {zpIndex}"), DType.F64));
    }

    private static Node ScaleOf(NodeImport n, int i, Node like, bool rowAxis, int? channelAxis = null) =>
        Cast(PerVector(n, n.Input(i), like, rowAxis, channelAxis, $"input {i}"), DType.F64);

    /// <summary>A scalar (or one-element) parameter as a scalar, a 1-d one laid along the row, column or channel axis of <paramref name="x"/>.</summary>
    private static Node PerVector(NodeImport n, Node p, Node x, bool rowAxis, int? channelAxis, string what)
    {
        if (p.Shape.Rank == 0 || p.Shape.Numel.TryGetConstant() == 1) return Reshape(p, Shape.Scalar);
        if (p.Shape.Rank != 1) throw n.Import($"{what} has shape {p.Shape}; a scalar or a vector is expected");
        int rank = x.Shape.Rank;
        if (rank < 2) throw n.Import($"{what} is a vector, but the operand has rank {rank}");
        int axis = channelAxis ?? (rowAxis ? rank - 2 : rank - 1);
        var dims = Enumerable.Repeat(Dim.One, rank).ToArray();
        dims[axis] = p.Shape[0];
        return Reshape(p, new Shape(dims));
    }

    private static Node ScalarLike(NodeImport n, Node p, string what) =>
        p.Shape.Rank == 0 || p.Shape.Numel.TryGetConstant() == 1 ? Reshape(p, Shape.Scalar) : throw n.Import($"{what} has shape {p.Shape}; only a per-tensor (scalar) value is supported");

    /// <summary>The axis (opset 13+) and block size (opset 21+) attributes.</summary>
    private static (long Axis, long Block) AxisAndBlock(NodeImport n)
    {
        long block = n.Attrs.Int("block_size", 0);
        if (block < 0) throw n.Import($"block_size {block} is negative");
        return (n.Attrs.Int("axis", 1), block);
    }

    /// <summary>The output_dtype attribute (opset 21+), or <paramref name="fallback"/> when absent or 0.</summary>
    private static DType OutputDType(NodeImport n, DType fallback)
    {
        long code = n.Attrs.Int("output_dtype", 0);
        if (code == 0) return fallback;
        return OnnxDataTypes.ToDType(checked((int)code)) ?? throw n.Import($"output_dtype {OnnxDataTypes.Name((int)code)} is not supported");
    }

    /// <summary>
    /// A scale or zero point made broadcastable against x: a scalar per tensor, a vector along the axis attribute, or
    /// (block size > 0) a tensor of x's rank whose entries each cover <paramref name="block"/> consecutive elements along
    /// the axis, repeated and trimmed to x's size.
    /// </summary>
    private static Node Broadcastable(NodeImport n, Node p, Node x, long axisAttr, long block, string what)
    {
        int rank = x.Shape.Rank;
        if (block == 0 && (p.Shape.Rank == 0 || p.Shape.Numel.TryGetConstant() == 1)) return Reshape(p, Shape.Scalar);
        int axis = n.Axis(axisAttr, rank);
        if (block > 0)
        {
            if (p.Shape.Rank != rank) throw n.Import($"{what} {p.Shape} must have the rank of the input {x.Shape} for blocked quantization");
            long blocks = p.Shape[axis].TryGetConstant() ?? throw n.Import($"{what} needs a constant size along axis {axis}");
            long size = x.Shape[axis].TryGetConstant() ?? throw n.Import($"blocked quantization needs a constant size along axis {axis}, got {x.Shape}");
            if (blocks != (size + block - 1) / block) throw n.Import($"{what} has {blocks} blocks along axis {axis}, expected ceil({size} / {block})");
            var repeated = Unsqueeze(p, axis + 1);
            var dims = repeated.Shape.ToArray();
            dims[axis + 1] = Dim.Of(block);
            repeated = Expand(repeated, new Shape(dims));
            var merged = p.Shape.ToArray();
            merged[axis] = Dim.Of(blocks * block);
            return Narrow(Reshape(repeated, new Shape(merged)), axis, Dim.Zero, Dim.Of(size));
        }

        if (p.Shape.Rank != 1) throw n.Import($"{what} has shape {p.Shape}; a scalar, a vector along axis {axis} or (block_size) a blocked tensor is expected");
        var shape = Enumerable.Repeat(Dim.One, rank).ToArray();
        shape[axis] = p.Shape[0];
        return Reshape(p, new Shape(shape));
    }
}
