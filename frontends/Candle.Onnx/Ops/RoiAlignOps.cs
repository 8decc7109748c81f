using Candle.Compiler.Ir;
using Candle.Runtime;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// RoiAlign (opsets 10, 16, 22) with a constant sampling_ratio: each RoI's bins are sampled on a sampling_ratio ×
/// sampling_ratio grid of bilinear interpolations of its image. Bilinear interpolation is separable, so each of the
/// four corner terms (y low/high × x low/high) of every sample is a product Aᵧ · X · Aₓᵀ with per-RoI interpolation
/// matrices built from comparisons against the row and column indices (a sample outside [−1, size] weighs nothing;
/// coordinates clamp to the last row or column as the spec's reference does). "avg" averages the samples of a bin,
/// "max" takes the largest weighted corner term over the bin's samples. The adaptive grid of sampling_ratio 0 depends
/// on the RoIs' values and is an import error.
/// </summary>
internal static class RoiAlignOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["RoiAlign"] = RoiAlign;

    private static OnnxValue[] RoiAlign(NodeImport n)
    {
        Node x = n.Input(0), rois = n.Input(1), batch = n.Input(2);
        if (x.Shape.Rank != 4 || !x.DType.IsFloat()) throw n.Import($"needs a 4-D floating-point X, got {x.DType.TorchName()} {x.Shape}");
        if (rois.Shape.Rank != 2 || rois.Shape[1] != Dim.Of(4)) throw n.Import($"needs rois [num_rois, 4], got {rois.Shape}");
        if (batch.Shape.Rank != 1 || batch.Shape[0] != rois.Shape[0]) throw n.Import($"needs batch_indices [{rois.Shape[0]}], got {batch.Shape}");
        if (x.Shape[2].TryGetConstant() is not long height || x.Shape[3].TryGetConstant() is not long width) throw n.Import($"needs a constant height and width, got X {x.Shape}");
        string mode = n.Attrs.String("mode", "avg");
        if (mode is not ("avg" or "max")) throw n.Import($"mode '{mode}' is not avg or max");
        string transform = n.Attrs.String("coordinate_transformation_mode", n.Opset >= 16 ? "half_pixel" : "output_half_pixel");
        if (transform is not ("half_pixel" or "output_half_pixel")) throw n.Import($"coordinate_transformation_mode '{transform}' is not half_pixel or output_half_pixel");
        long pooledH = n.Attrs.Int("output_height", 1), pooledW = n.Attrs.Int("output_width", 1), ratio = n.Attrs.Int("sampling_ratio", 0);
        if (pooledH < 1 || pooledW < 1) throw n.Import($"output_height {pooledH} and output_width {pooledW} must be positive");
        if (ratio <= 0) throw n.Import($"sampling_ratio {ratio} (an adaptive grid, sized by the RoIs' values) is not supported; a positive sampling_ratio is");
        n.Expand(64, (pooledH + pooledW) * ratio * 2, $"{pooledH * pooledW * ratio * ratio} samples per RoI");

        bool halfPixel = transform == "half_pixel";
        double scale = n.Attrs.Float("spatial_scale", 1);
        var dtype = x.DType == DType.F64 ? DType.F64 : DType.F32;
        var boxes = Cast(rois, dtype);
        Node Corner(int i) => Binary(Op.Sub, Binary(Op.Mul, SliceAxis(boxes, 1, i, i + 1), Scalar(scale, dtype)), Scalar(halfPixel ? 0.5 : 0, dtype));
        Node startW = Corner(0), startH = Corner(1);
        Node roiW = Binary(Op.Sub, Corner(2), startW), roiH = Binary(Op.Sub, Corner(3), startH);
        if (!halfPixel)
        {
            roiW = Binary(Op.Maximum, roiW, Scalar(1, dtype));
            roiH = Binary(Op.Maximum, roiH, Scalar(1, dtype));
        }

        var (lowY, highY) = Interpolation(Samples(startH, Binary(Op.Div, roiH, Scalar(pooledH, dtype)), pooledH, ratio, dtype), height, dtype);
        var (lowX, highX) = Interpolation(Samples(startW, Binary(Op.Div, roiW, Scalar(pooledW, dtype)), pooledW, ratio, dtype), width, dtype);
        var images = Cast(IndexSelect(x, 0, Cast(batch, DType.I64)), dtype);
        Node Term(Node ay, Node ax) => MatMul(MatMul(Unsqueeze(ay, 1), images), Transpose(Unsqueeze(ax, 1), 2, 3));

        Dim r = rois.Shape[0], c = x.Shape[1];
        var binShape = new Shape(r, c, Dim.Of(pooledH), Dim.Of(ratio), Dim.Of(pooledW), Dim.Of(ratio));
        Node y;
        if (mode == "avg")
        {
            var samples = Term(Binary(Op.Add, lowY, highY), Binary(Op.Add, lowX, highX));
            y = Binary(Op.Div, Reduce(Op.Sum, Reshape(samples, binShape), [3, 5]), Scalar(ratio * ratio, dtype));
        }
        else
        {
            var largest = Binary(Op.Maximum, Binary(Op.Maximum, Term(lowY, lowX), Term(lowY, highX)), Binary(Op.Maximum, Term(highY, lowX), Term(highY, highX)));
            y = Reduce(Op.Max, Reshape(largest, binShape), [3, 5]);
        }

        return NodeImport.One(Cast(y, x.DType));
    }

    /// <summary>Sample coordinates [R, pooled·ratio]: start + p·bin + (i + ½)·bin / ratio for bin p and grid step i.</summary>
    private static Node Samples(Node start, Node bin, long pooled, long ratio, DType dtype)
    {
        var whole = new double[pooled * ratio];
        var part = new double[pooled * ratio];
        for (long p = 0; p < pooled; p++)
        {
            for (long i = 0; i < ratio; i++)
            {
                whole[(p * ratio) + i] = p;
                part[(p * ratio) + i] = (i + 0.5) / ratio;
            }
        }

        Node Row(double[] v) => Cast(Constant(Runtime.Tensors.HostTensor.FromArray(v, 1, v.Length)), dtype);
        return Binary(Op.Add, Binary(Op.Add, start, Binary(Op.Mul, Row(whole), bin)), Binary(Op.Mul, Row(part), bin));
    }

    /// <summary>
    /// The interpolation matrices [R, samples, size] of the low and high neighbors: row s holds the weight of its low
    /// (high) row or column at that index and zeros elsewhere, all zeros for a sample outside [−1, size].
    /// </summary>
    private static (Node Low, Node High) Interpolation(Node coord, long size, DType dtype)
    {
        var valid = Binary(Op.LogicalAnd, Binary(Op.Ge, coord, Scalar(-1, dtype)), Binary(Op.Le, coord, Scalar(size, dtype)));
        var clamped = Binary(Op.Maximum, coord, Scalar(0, dtype));
        var low = Unary(Op.Floor, clamped);
        var last = Binary(Op.Ge, low, Scalar(size - 1, dtype));
        low = Where(last, Scalar(size - 1, dtype), low);
        var high = Where(last, low, Binary(Op.Add, low, Scalar(1, dtype)));
        clamped = Where(last, low, clamped);
        var lowWeight = Where(valid, Binary(Op.Sub, Scalar(1, dtype), Binary(Op.Sub, clamped, low)), Scalar(0, dtype));
        var highWeight = Where(valid, Binary(Op.Sub, clamped, low), Scalar(0, dtype));
        var index = Reshape(Arange(Dim.Of(size), dtype), new Shape(Dim.One, Dim.One, Dim.Of(size)));
        Node Spread(Node weight, Node at) => Where(Binary(Op.Eq, Unsqueeze(at, 2), index), Unsqueeze(weight, 2), Scalar(0, dtype));
        return (Spread(lowWeight, low), Spread(highWeight, high));
    }
}
