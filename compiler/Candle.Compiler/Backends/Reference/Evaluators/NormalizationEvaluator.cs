using Candle.Compiler.Ir;
using Candle.Runtime.Tensors;

namespace Candle.Compiler.Backends.Reference;

/// <summary>
/// Softmax and log-softmax (stable: the row maximum is subtracted first; a row of −∞ gives NaN as in
/// PyTorch), layer norm (biased variance, eps inside the square root), RMS norm and group norm. All in double.
/// </summary>
internal static class NormalizationEvaluator
{
    public static HostTensor Evaluate(OpCall call) => call.Op switch
    {
        Op.Softmax or Op.LogSoftmax => Softmax(call),
        Op.LayerNorm => LayerNorm(call),
        Op.RmsNorm => RmsNorm(call),
        Op.GroupNorm => GroupNorm(call),
        _ => throw new InvalidOperationException($"{call.Describe()}: not a normalization"),
    };

    private static HostTensor Softmax(OpCall call)
    {
        bool log = call.Op == Op.LogSoftmax;
        var v = TensorData.ReadDoubles(call[0]);
        var (outer, inner) = Layout.Reduction(call.Shape(0), [call.Attr<AxisAttrs>().Axis]);
        foreach (int b in outer)
        {
            double max = double.NegativeInfinity;
            foreach (int j in inner) max = Math.Max(max, v[b + j]);
            double sum = 0;
            foreach (int j in inner) sum += Math.Exp(v[b + j] - max);
            double logSum = Math.Log(sum);
            foreach (int j in inner)
            {
                double shifted = v[b + j] - max;
                v[b + j] = log ? shifted - logSum : Math.Exp(shifted) / sum;
            }
        }

        return call.Result(v);
    }

    private static (double[]? Weight, double[]? Bias) Affine(OpCall call)
    {
        var a = call.Attr<NormAttrs>();
        int i = 1;
        double[]? w = a.HasWeight ? TensorData.ReadDoubles(call[i++]) : null;
        double[]? b = a.HasBias ? TensorData.ReadDoubles(call[i]) : null;
        return (w, b);
    }

    private static HostTensor LayerNorm(OpCall call)
    {
        var a = call.Attr<NormAttrs>();
        var shape = call.Shape(0);
        var v = TensorData.ReadDoubles(call[0]);
        var (w, bias) = Affine(call);
        int inner = Layout.Numel(shape[(shape.Length - a.NormalizedDims)..]);
        int rows = inner == 0 ? 0 : v.Length / inner;
        for (int r = 0; r < rows; r++)
        {
            Normalize(v, r * inner, inner, a.Eps, j => j, w, bias);
        }

        return call.Result(v);
    }

    private static HostTensor RmsNorm(OpCall call)
    {
        var a = call.Attr<NormAttrs>();
        var shape = call.Shape(0);
        var v = TensorData.ReadDoubles(call[0]);
        var (w, _) = Affine(call);
        int inner = shape[^1];
        int rows = inner == 0 ? 0 : v.Length / inner;
        for (int r = 0; r < rows; r++)
        {
            int o = r * inner;
            double ss = 0;
            for (int j = 0; j < inner; j++) ss += v[o + j] * v[o + j];
            double inv = 1.0 / Math.Sqrt((ss / inner) + a.Eps);
            for (int j = 0; j < inner; j++) v[o + j] = v[o + j] * inv * (w is null ? 1.0 : w[j]);
        }

        return call.Result(v);
    }

    private static HostTensor GroupNorm(OpCall call)
    {
        var a = call.Attr<NormAttrs>();
        var shape = call.Shape(0);
        var v = TensorData.ReadDoubles(call[0]);
        var (w, bias) = Affine(call);
        int n = shape[0], c = shape[1];
        int spatial = Layout.Numel(shape[2..]);
        int perGroup = c / a.Groups;
        int block = perGroup * spatial;
        for (int s = 0; s < n; s++)
        {
            for (int g = 0; g < a.Groups; g++)
            {
                int first = g * perGroup;
                Normalize(v, ((s * c) + first) * spatial, block, a.Eps, j => first + (j / spatial), w, bias);
            }
        }

        return call.Result(v);
    }

    // (x − mean) / √(var + eps) · w[param(j)] + b[param(j)] over v[o .. o+count), with the biased variance.
    private static void Normalize(double[] v, int o, int count, double eps, Func<int, int> param, double[]? w, double[]? b)
    {
        if (count == 0) return;
        double mean = 0;
        for (int j = 0; j < count; j++) mean += v[o + j];
        mean /= count;
        double var = 0;
        for (int j = 0; j < count; j++) var += (v[o + j] - mean) * (v[o + j] - mean);
        var /= count;
        double inv = 1.0 / Math.Sqrt(var + eps);
        for (int j = 0; j < count; j++)
        {
            double y = (v[o + j] - mean) * inv;
            if (w is not null) y *= w[param(j)];
            if (b is not null) y += b[param(j)];
            v[o + j] = y;
        }
    }
}
