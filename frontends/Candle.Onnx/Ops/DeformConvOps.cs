using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// DeformConv (opsets 19, 22) over 2-d images: kernel tap (i, j) of output position (p, q) samples the input at
/// (p·stride − pad + i·dilation + Δy, q·stride − pad + j·dilation + Δx) with the offsets Δ of its offset group, by
/// bilinear interpolation whose corners outside the image weigh nothing (GridSample with align_corners and zero
/// padding, as the spec's reference samples); the samples, times the mask when given, form the columns of a grouped
/// convolution: one product with the weights per group, plus the bias.
/// </summary>
internal static class DeformConvOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["DeformConv"] = DeformConv;

    private static OnnxValue[] DeformConv(NodeImport n)
    {
        Node x = n.Input(0), w = n.Input(1), offset = n.Input(2);
        if (x.Shape.Rank != 4 || w.Shape.Rank != 4 || offset.Shape.Rank != 4) throw n.Import($"supports 2-d images: needs 4-D X, W and offset, got {x.Shape}, {w.Shape}, {offset.Shape}");
        if (!x.DType.IsFloat()) throw n.Import($"needs a floating-point X, got {x.DType.TorchName()}");
        long[] dims = new long[4];
        Dim[] all = [x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[0]];
        for (int i = 0; i < 4; i++) dims[i] = all[i].TryGetConstant() ?? throw n.Import($"needs constant channels and image sizes, got X {x.Shape} and W {w.Shape}");
        long channels = dims[0], height = dims[1], width = dims[2], outChannels = dims[3];
        if (w.Shape[1].TryGetConstant() is not long perGroup || w.Shape[2].TryGetConstant() is not long kh || w.Shape[3].TryGetConstant() is not long kw) throw n.Import($"needs a constant weight shape, got {w.Shape}");
        if (n.Attrs.Ints("kernel_shape") is { } kernel && (kernel.Length != 2 || kernel[0] != kh || kernel[1] != kw)) throw n.Import($"kernel_shape [{string.Join(", ", kernel)}] does not match W {w.Shape}");
        long group = n.Attrs.Int("group", 1), offsetGroup = n.Attrs.Int("offset_group", 1);
        if (group < 1 || perGroup * group != channels || outChannels % group != 0) throw n.Import($"W {w.Shape} with group {group} does not fit {channels} input channels");
        if (offsetGroup < 1 || channels % offsetGroup != 0) throw n.Import($"offset_group {offsetGroup} does not divide {channels} channels");
        long[] strides = n.Attrs.Ints("strides") ?? [1, 1], dilations = n.Attrs.Ints("dilations") ?? [1, 1], pads = n.Attrs.Ints("pads") ?? [0, 0, 0, 0];
        if (strides.Length != 2 || dilations.Length != 2 || pads.Length != 4 || strides.Any(s => s < 1) || dilations.Any(d => d < 1) || pads.Any(p => p < 0)) throw n.Import("needs two positive strides and dilations and four non-negative pads");
        long outH = ((height + pads[0] + pads[2] - ((kh - 1) * dilations[0]) - 1) / strides[0]) + 1;
        long outW = ((width + pads[1] + pads[3] - ((kw - 1) * dilations[1]) - 1) / strides[1]) + 1;
        if (outH < 1 || outW < 1) throw n.Import($"the kernel does not fit the padded image {x.Shape}");
        long taps = kh * kw, positions = outH * outW;
        if (offset.Shape[1] != Dim.Of(offsetGroup * taps * 2) || offset.Shape[2] != Dim.Of(outH) || offset.Shape[3] != Dim.Of(outW)) throw n.Import($"offset {offset.Shape} is not [N, {offsetGroup * taps * 2}, {outH}, {outW}]");
        n.Expand(64, 2 * taps * positions, $"{taps * positions} sampling positions");

        var dtype = x.DType == DType.F64 ? DType.F64 : DType.F32;
        Dim batch = x.Shape[0];
        var points = new Shape(batch, Dim.Of(offsetGroup), Dim.Of(taps * positions));
        // offset [N, G·kh·kw·2, oH, oW] → Δy, Δx [N, G, kh·kw·oH·oW].
        var deltas = Reshape(Cast(offset, dtype), new Shape(batch, Dim.Of(offsetGroup), Dim.Of(taps), Dim.Of(2), Dim.Of(positions)));
        var dy = Reshape(Select(deltas, 3, 0), points);
        var dx = Reshape(Select(deltas, 3, 1), points);
        var baseY = new double[taps * positions];
        var baseX = new double[taps * positions];
        for (long i = 0; i < kh; i++)
        {
            for (long j = 0; j < kw; j++)
            {
                for (long p = 0; p < outH; p++)
                {
                    for (long q = 0; q < outW; q++)
                    {
                        long at = ((((i * kw) + j) * outH) + p) * outW + q;
                        baseY[at] = (p * strides[0]) - pads[0] + (i * dilations[0]);
                        baseX[at] = (q * strides[1]) - pads[1] + (j * dilations[1]);
                    }
                }
            }
        }

        var y = Binary(Op.Add, Cast(Constant(HostTensor.FromArray(baseY, baseY.Length)), dtype), dy);
        var xs = Binary(Op.Add, Cast(Constant(HostTensor.FromArray(baseX, baseX.Length)), dtype), dx);

        // Bilinear interpolation: four corners, each weighing nothing outside the image.
        long groupChannels = channels / offsetGroup;
        var image = Reshape(Cast(x, dtype), new Shape(batch, Dim.Of(offsetGroup), Dim.Of(groupChannels), Dim.Of(height * width)));
        var y0 = Unary(Op.Floor, y);
        var x0 = Unary(Op.Floor, xs);
        Node? samples = null;
        foreach (var (cy, wy) in new[] { (y0, Binary(Op.Sub, Scalar(1, dtype), Binary(Op.Sub, y, y0))), (Binary(Op.Add, y0, Scalar(1, dtype)), Binary(Op.Sub, y, y0)) })
        {
            foreach (var (cx, wx) in new[] { (x0, Binary(Op.Sub, Scalar(1, dtype), Binary(Op.Sub, xs, x0))), (Binary(Op.Add, x0, Scalar(1, dtype)), Binary(Op.Sub, xs, x0)) })
            {
                var inside = Binary(Op.LogicalAnd,
                    Binary(Op.LogicalAnd, Binary(Op.Ge, cy, Scalar(0, dtype)), Binary(Op.Le, cy, Scalar(height - 1, dtype))),
                    Binary(Op.LogicalAnd, Binary(Op.Ge, cx, Scalar(0, dtype)), Binary(Op.Le, cx, Scalar(width - 1, dtype))));
                var index = Cast(Where(inside, Binary(Op.Add, Binary(Op.Mul, cy, Scalar(width, dtype)), cx), Scalar(0, dtype)), DType.I64);
                var gathered = Gather(image, 3, BroadcastTo(Unsqueeze(index, 2), new Shape(batch, Dim.Of(offsetGroup), Dim.Of(groupChannels), Dim.Of(taps * positions))));
                var weight = Where(inside, Binary(Op.Mul, wy, wx), Scalar(0, dtype));
                var term = Binary(Op.Mul, gathered, Unsqueeze(weight, 2));
                samples = samples is null ? term : Binary(Op.Add, samples, term);
            }
        }

        if (n.OptionalInput(4) is { } mask)
        {
            if (mask.Shape.Rank != 4 || mask.Shape[1] != Dim.Of(offsetGroup * taps) || mask.Shape[2] != Dim.Of(outH) || mask.Shape[3] != Dim.Of(outW)) throw n.Import($"mask {mask.Shape} is not [N, {offsetGroup * taps}, {outH}, {outW}]");
            samples = Binary(Op.Mul, samples!, Unsqueeze(Reshape(Cast(mask, dtype), points), 2));
        }

        // Columns [N, group, C/group·kh·kw, oH·oW] times weights [group, oC/group, C/group·kh·kw].
        var columns = Reshape(samples!, new Shape(batch, Dim.Of(group), Dim.Of(perGroup * taps), Dim.Of(positions)));
        var weights = Reshape(Cast(w, dtype), new Shape(Dim.Of(group), Dim.Of(outChannels / group), Dim.Of(perGroup * taps)));
        var result = Reshape(MatMul(weights, columns), new Shape(batch, Dim.Of(outChannels), Dim.Of(outH), Dim.Of(outW)));
        if (n.OptionalInput(3) is { } bias)
        {
            if (bias.Shape.Rank != 1 || bias.Shape[0] != Dim.Of(outChannels)) throw n.Import($"B {bias.Shape} is not [{outChannels}]");
            result = Binary(Op.Add, result, Reshape(Cast(bias, dtype), new Shape(Dim.One, Dim.Of(outChannels), Dim.One, Dim.One)));
        }

        return NodeImport.One(Cast(result, x.DType));
    }
}
