using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Upsample (nearest, whole scales) and Resize (opset 11 on): interpolation is separable, so each resized axis is a product with a constant
/// [in, out] weight matrix computed at import from the mode (nearest with its rounding, linear, cubic, each with
/// antialias), the coordinate transformation, exclude_outside and, for tf_crop_and_resize, the region of interest
/// (positions outside it take extrapolation_value). Needs constant scales or sizes and a static input shape.
/// </summary>
internal static class ResizeOps
{
    private const int MaxAxisLength = 1 << 14;

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["Resize"] = Resize;
        t["Upsample"] = Upsample;
    }

    /// <summary>
    /// Upsample (deprecated since opset 10), nearest with whole scales: output[i] = x[⌊i / scale⌋], each element repeated
    /// scale times along its axis. Scales come from the attribute (opset 7) or the constant input (opset 9).
    /// </summary>
    private static OnnxValue[] Upsample(NodeImport n)
    {
        var x = n.Input(0);
        string mode = n.Attrs.String("mode", "nearest");
        if (mode != "nearest") throw n.Import($"mode '{mode}' is not supported (nearest is)");
        double[] scales = n.Attrs.Floats("scales") is { } attr ? [.. attr.Select(v => (double)v)] : FloatsOf(n, 1, "scales") ?? throw n.Import("needs scales");
        if (scales.Length != x.Shape.Rank) throw n.Import($"has {scales.Length} scales for rank {x.Shape.Rank}");
        var y = x;
        for (int axis = 0; axis < scales.Length; axis++)
        {
            double scale = scales[axis];
            if (scale == 1) continue;
            if (scale != Math.Floor(scale) || scale < 1 || scale > 1 << 16) throw n.Import($"scale {scale} on axis {axis} is not a whole number from 1 to {1 << 16}");
            var expanded = Unsqueeze(y, axis + 1);
            var dims = expanded.Shape.ToArray();
            dims[axis + 1] = Dim.Of((long)scale);
            var merged = y.Shape.ToArray();
            merged[axis] = y.Shape[axis] * Dim.Of((long)scale);
            y = Reshape(Expand(expanded, new Shape(dims)), new Shape(merged));
        }

        return NodeImport.One(y);
    }

    private static OnnxValue[] Resize(NodeImport n)
    {
        if (n.Opset < 11) throw n.Import($"opset {n.Opset} Resize (scales only, before coordinate modes) is not supported");
        var x = n.Input(0);
        int rank = x.Shape.Rank;
        if (!x.Shape.IsStatic) throw n.Import($"needs a static input shape, got {x.Shape}");
        long[] inShape = [.. x.Shape.Select(d => d.Value)];
        string mode = n.Attrs.String("mode", "nearest");
        string coord = n.Attrs.String("coordinate_transformation_mode", "half_pixel");
        string nearestMode = n.Attrs.String("nearest_mode", "round_prefer_floor");
        double a = n.Attrs.Float("cubic_coeff_a", -0.75);
        bool excludeOutside = n.Attrs.Int("exclude_outside", 0) != 0;
        double extrapolation = n.Attrs.Float("extrapolation_value", 0);
        bool antialias = n.Attrs.Int("antialias", 0) != 0;
        string policy = n.Attrs.String("keep_aspect_ratio_policy", "stretch");
        if (mode is not ("nearest" or "linear" or "cubic")) throw n.Import($"mode '{mode}' is not defined");
        if (mode == "nearest" && antialias) throw n.Import("antialias is not defined for mode 'nearest'");
        if (nearestMode is not ("round_prefer_floor" or "round_prefer_ceil" or "floor" or "ceil")) throw n.Import($"nearest_mode '{nearestMode}' is not defined");
        if (coord is not ("half_pixel" or "half_pixel_symmetric" or "pytorch_half_pixel" or "align_corners" or "asymmetric" or "tf_crop_and_resize"))
        {
            throw n.Import($"coordinate_transformation_mode '{coord}' is not supported");
        }

        int[] axes = n.Attrs.Ints("axes") is { } given ? [.. given.Select(v => n.Axis(v, rank, "axes entry"))] : [.. Enumerable.Range(0, rank)];
        double[]? scalesIn = FloatsOf(n, 2, "scales");
        long[]? sizesIn = n.HasInput(3) ? n.ConstInts(3, "sizes") : null;
        if (scalesIn is { Length: 0 }) scalesIn = null;
        if (sizesIn is { Length: 0 }) sizesIn = null;
        if ((scalesIn is null) == (sizesIn is null)) throw n.Import("needs exactly one of scales and sizes");
        if ((scalesIn?.Length ?? sizesIn!.Length) != axes.Length) throw n.Import($"scales/sizes have {scalesIn?.Length ?? sizesIn!.Length} entries for {axes.Length} axes");

        double[]? roiIn = coord == "tf_crop_and_resize" ? FloatsOf(n, 1, "roi") : null;
        var roi = new double[2 * rank];
        for (int i = 0; i < rank; i++) roi[rank + i] = 1;
        if (roiIn is { Length: > 0 })
        {
            if (roiIn.Length != 2 * axes.Length) throw n.Import($"roi has {roiIn.Length} entries for {axes.Length} axes");
            for (int i = 0; i < axes.Length; i++)
            {
                roi[axes[i]] = roiIn[i];
                roi[rank + axes[i]] = roiIn[axes.Length + i];
            }
        }

        var scales = Enumerable.Repeat(1.0, rank).ToArray();
        var outShape = (long[])inShape.Clone();
        if (scalesIn is not null)
        {
            for (int i = 0; i < axes.Length; i++)
            {
                if (!(scalesIn[i] > 0)) throw n.Import($"scale {scalesIn[i]} must be positive");
                scales[axes[i]] = scalesIn[i];
                outShape[axes[i]] = (long)(scalesIn[i] * inShape[axes[i]]);
            }
        }
        else
        {
            for (int i = 0; i < axes.Length; i++)
            {
                if (sizesIn![i] < 0) throw n.Import($"size {sizesIn[i]} is negative");
                if (inShape[axes[i]] == 0) throw n.Import("cannot resize an empty axis");
                scales[axes[i]] = (double)sizesIn[i] / inShape[axes[i]];
                outShape[axes[i]] = sizesIn[i];
            }

            if (policy != "stretch")
            {
                double s = policy switch
                {
                    "not_larger" => axes.Min(ax => scales[ax]),
                    "not_smaller" => axes.Max(ax => scales[ax]),
                    _ => throw n.Import($"keep_aspect_ratio_policy '{policy}' is not defined"),
                };
                foreach (int ax in axes)
                {
                    scales[ax] = s;
                    outShape[ax] = (long)((s * inShape[ax]) + 0.5);
                }
            }
        }

        var work = x.DType == DType.F64 ? DType.F64 : DType.F32;
        var y = Cast(x, work);
        foreach (int axis in axes)
        {
            long inLen = inShape[axis], outLen = outShape[axis];
            if (outLen > MaxAxisLength || inLen > MaxAxisLength) throw n.Import($"axis {axis} resized from {inLen} to {outLen} is larger than {MaxAxisLength}");
            if (Math.Abs(scales[axis] - 1) < 1e-9 && outLen == inLen && Math.Abs(roi[axis]) < 1e-9 && Math.Abs(roi[rank + axis] - 1) < 1e-9) continue;
            if (inLen == 0) throw n.Import("cannot resize an empty axis");
            n.Expand(0, inLen * outLen, $"the interpolation weights of axis {axis} ({inLen} × {outLen})");
            var (weights, extra) = AxisWeights(
                (int)inLen, (int)outLen, scales[axis], coord, roi[axis], roi[rank + axis], excludeOutside, extrapolation,
                r => Coefficients(mode, nearestMode, antialias, a, r, scales[axis]));
            var moved = Transpose(y, axis, rank - 1);
            var w = Constant(HostTensor.FromDoubles(work, weights, (int)inLen, (int)outLen));
            var product = MatMul(moved, w);
            if (extra is not null) product = Binary(Op.Add, product, Constant(HostTensor.FromDoubles(work, extra, (int)outLen)));
            y = Transpose(product, axis, rank - 1);
        }

        return NodeImport.One(Cast(x.DType.IsFloat() ? y : Unary(Op.Floor, y), x.DType));
    }

    private static double[]? FloatsOf(NodeImport n, int i, string what)
    {
        if (!n.HasInput(i)) return null;
        var node = n.Input(i);
        if (node.Op != Op.Constant) throw n.Import($"needs {what} (input {i}) to be a constant");
        return node.Attr<ConstantAttrs>().Data.ToFloat64();
    }

    /// <summary>Coefficients of the neighbours of a source position with fractional part <paramref name="ratio"/>.</summary>
    private static double[] Coefficients(string mode, string nearestMode, bool antialias, double a, double ratio, double scale)
    {
        switch (mode)
        {
            case "nearest":
                if (ratio == Math.Floor(ratio)) return [0, 1];
                return nearestMode switch
                {
                    "round_prefer_floor" => ratio <= 0.5 ? [1, 0] : [0, 1],
                    "round_prefer_ceil" => ratio < 0.5 ? [1, 0] : [0, 1],
                    "floor" => [1, 0],
                    _ => [0, 1],
                };
            case "linear" when !antialias:
                return [1 - ratio, ratio];
            case "linear":
            {
                double s = Math.Min(scale, 1.0);
                int start = (int)Math.Floor(-1 / s) + 1;
                int footprint = 2 - (2 * start);
                var c = new double[footprint];
                for (int i = 0; i < footprint; i++) c[i] = Math.Clamp(1 - Math.Abs((start + i - ratio) * s), 0, 1);
                return Normalized(c);
            }

            case "cubic" when !antialias:
            {
                double r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
                return
                [
                    ((((a * r1) - (5 * a)) * r1) + (8 * a)) * r1 - (4 * a),
                    ((((a + 2) * ratio) - (a + 3)) * ratio * ratio) + 1,
                    ((((a + 2) * q) - (a + 3)) * q * q) + 1,
                    ((((a * q1) - (5 * a)) * q1) + (8 * a)) * q1 - (4 * a),
                ];
            }

            default:
            {
                double s = Math.Min(scale, 1.0);
                int start = (int)Math.Floor(-2 / s) + 1;
                int end = 2 - start;
                var c = new double[end - start];
                for (int i = start; i < end; i++)
                {
                    double v = Math.Abs(s * (i - ratio));
                    c[i - start] = v <= 1 ? ((a + 2) * v * v * v) - ((a + 3) * v * v) + 1 : v < 2 ? (a * v * v * v) - (5 * a * v * v) + (8 * a * v) - (4 * a) : 0;
                }

                return Normalized(c);
            }
        }
    }

    private static double[] Normalized(double[] c)
    {
        double sum = c.Sum();
        return [.. c.Select(v => v / sum)];
    }

    /// <summary>
    /// The [in, out] weights of one axis (ONNX's reference resize along an axis: neighbours of each source coordinate,
    /// clamped to the edge), and the constant added per output position (extrapolated positions), or null.
    /// </summary>
    private static (double[] Weights, double[]? Extra) AxisWeights(
        int inLen, int outLen, double scale, string coord, double roiStart, double roiEnd, bool excludeOutside, double extrapolation,
        Func<double, double[]> coefficients)
    {
        var w = new double[(long)inLen * outLen];
        double[]? extra = null;
        double outWidth = scale * inLen;
        for (int o = 0; o < outLen; o++)
        {
            double y = o, xo;
            bool outside = false;
            switch (coord)
            {
                case "align_corners": xo = outWidth == 1 ? 0 : y * (inLen - 1) / (outWidth - 1); break;
                case "asymmetric": xo = y / scale; break;
                case "tf_crop_and_resize":
                    xo = outWidth == 1 ? (roiEnd - roiStart) * (inLen - 1) / 2 : y * (roiEnd - roiStart) * (inLen - 1) / (outWidth - 1);
                    xo += roiStart * (inLen - 1);
                    outside = xo < 0 || xo > inLen - 1;
                    break;
                case "pytorch_half_pixel": xo = outWidth == 1 ? -0.5 : ((y + 0.5) / scale) - 0.5; break;
                case "half_pixel_symmetric":
                {
                    double adjustment = outLen / outWidth, center = inLen / 2.0;
                    xo = (center * (1 - adjustment)) + ((y + 0.5) / scale) - 0.5;
                    break;
                }

                default: xo = ((y + 0.5) / scale) - 0.5; break;
            }

            if (outside)
            {
                extra ??= new double[outLen];
                extra[o] = extrapolation;
                continue;
            }

            double floor = Math.Floor(xo);
            double ratio = xo == floor ? 1.0 : xo - floor;
            var c = coefficients(ratio);
            int count = c.Length, pad = (count + 1) / 2;
            double padded = xo + pad;
            double p = Math.Floor(padded), frac = padded - p;
            long offset = count % 2 == 0 ? (frac == 0 ? -(count / 2) : -(count / 2) + 1) : (frac <= 0.5 ? -((count - 1) / 2) : -((count - 1) / 2) + 1);
            long first = (long)p + offset - pad;
            if (excludeOutside)
            {
                for (int j = 0; j < count; j++)
                {
                    if (first + j < 0 || first + j >= inLen) c[j] = 0;
                }

                double sum = c.Sum();
                if (sum != 0)
                {
                    for (int j = 0; j < count; j++) c[j] /= sum;
                }
            }

            for (int j = 0; j < count; j++)
            {
                long i = Math.Clamp(first + j, 0, inLen - 1);
                w[(i * outLen) + o] += c[j];
            }
        }

        return (w, extra);
    }
}
