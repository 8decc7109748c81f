using Candle.Compiler.Ir;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Conv and ConvTranspose onto the IR's convolutions (asymmetric and auto pads as an explicit Pad), global pools as
/// reductions (windowed pools: <see cref="PoolOps"/>).
/// </summary>
internal static class ConvOps
{
    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["Conv"] = Conv;
        t["ConvTranspose"] = ConvTranspose;
        t["GlobalAveragePool"] = n => NodeImport.One(Reduce(Op.Mean, n.Input(0), Enumerable.Range(2, n.Input(0).Shape.Rank - 2), keepDim: true));
        t["GlobalMaxPool"] = n => NodeImport.One(Reduce(Op.Max, n.Input(0), Enumerable.Range(2, n.Input(0).Shape.Rank - 2), keepDim: true));
    }

    internal static int[] Ints(NodeImport n, string name, int count, int fallback)
    {
        var v = n.Attrs.Ints(name);
        if (v is null) return Enumerable.Repeat(fallback, count).ToArray();
        if (v.Length != count) throw n.Import($"attribute '{name}' has {v.Length} values, expected {count}");
        if (v.Any(x => x < 0 || x > int.MaxValue)) throw n.Import($"attribute '{name}' has a value out of range: [{string.Join(", ", v)}]");
        return [.. v.Select(x => (int)x)];
    }

    /// <summary>
    /// The begin and end pads per spatial dim from pads or auto_pad; SAME_* needs static spatial sizes.
    /// </summary>
    internal static (int[] Begin, int[] End) Pads(NodeImport n, Node x, int[] kernel, int[] stride, int[] dilation)
    {
        int s = kernel.Length;
        string autoPad = n.Attrs.String("auto_pad", "NOTSET");
        var begin = new int[s];
        var end = new int[s];
        switch (autoPad)
        {
            case "NOTSET":
                var pads = Ints(n, "pads", 2 * s, 0);
                for (int i = 0; i < s; i++) (begin[i], end[i]) = (pads[i], pads[s + i]);
                break;
            case "VALID":
                break;
            case "SAME_UPPER" or "SAME_LOWER":
                for (int i = 0; i < s; i++)
                {
                    long size = x.Shape[2 + i].TryGetConstant() ?? throw n.Import($"auto_pad={autoPad} needs a constant spatial size, got {x.Shape[2 + i]}");
                    long outSize = (size + stride[i] - 1) / stride[i];
                    long total = Math.Max(0, ((outSize - 1) * stride[i]) + (((long)kernel[i] - 1) * dilation[i]) + 1 - size);
                    int small = (int)(total / 2), large = (int)(total - small);
                    (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small);
                }

                break;
            default:
                throw n.Import($"auto_pad='{autoPad}' is not defined");
        }

        return (begin, end);
    }

    /// <summary>Pads asymmetrically with an explicit Pad, leaving the symmetric part to the op.</summary>
    internal static (Node X, int[] Symmetric) SplitPads(Node x, int[] begin, int[] end, double value)
    {
        int s = begin.Length;
        var sym = new int[s];
        var extra = new int[2 * s];
        bool any = false;
        for (int i = 0; i < s; i++)
        {
            sym[i] = Math.Min(begin[i], end[i]);
            int axisFromLast = s - 1 - i;
            extra[2 * axisFromLast] = begin[i] - sym[i];
            extra[(2 * axisFromLast) + 1] = end[i] - sym[i];
            any |= begin[i] != end[i];
        }

        return (any ? Pad(x, extra, value) : x, sym);
    }

    private static OnnxValue[] Conv(NodeImport n) => NodeImport.One(ConvOf(n, n.Input(0), n.Input(1), n.OptionalInput(2)));

    /// <summary>The convolution of <paramref name="x"/> by <paramref name="w"/> with the node's Conv attributes (shared with ConvInteger, QLinearConv).</summary>
    internal static Node ConvOf(NodeImport n, Node x, Node w, Node? bias)
    {
        int s = x.Shape.Rank - 2;
        if (s < 1 || w.Shape.Rank != x.Shape.Rank) throw n.Import($"needs X [N, C, ...] and W of the same rank, got {x.Shape} and {w.Shape}");
        int[] kernel = [.. w.Shape.Skip(2).Select(d => (int)(d.TryGetConstant() ?? throw n.Import($"needs a constant kernel shape, got {w.Shape}")))];
        if (n.Attrs.Ints("kernel_shape") is { } ks && !ks.SequenceEqual(kernel.Select(k => (long)k))) throw n.Import($"kernel_shape [{string.Join(", ", ks)}] differs from W {w.Shape}");
        var stride = Ints(n, "strides", s, 1);
        var dilation = Ints(n, "dilations", s, 1);
        var (begin, end) = Pads(n, x, kernel, stride, dilation);
        var (padded, sym) = SplitPads(x, begin, end, 0);
        int groups = checked((int)n.Attrs.Int("group", 1));
        return IrBuilder.Conv(padded, w, bias, stride, sym, dilation, groups);
    }

    private static OnnxValue[] ConvTranspose(NodeImport n)
    {
        Node x = n.Input(0), w = n.Input(1);
        Node? bias = n.OptionalInput(2);
        int s = x.Shape.Rank - 2;
        if (s < 1 || w.Shape.Rank != x.Shape.Rank) throw n.Import($"needs X [N, C, ...] and W of the same rank, got {x.Shape} and {w.Shape}");
        int[] kernel = [.. w.Shape.Skip(2).Select(d => (int)(d.TryGetConstant() ?? throw n.Import($"needs a constant kernel shape, got {w.Shape}")))];
        var stride = Ints(n, "strides", s, 1);
        var dilation = Ints(n, "dilations", s, 1);
        var outputPadding = Ints(n, "output_padding", s, 0);
        string autoPad = n.Attrs.String("auto_pad", "NOTSET");
        var begin = new int[s];
        var end = new int[s];
        var outputShape = n.Attrs.Ints("output_shape");
        if (outputShape is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            // The pads that give the requested (or the SAME, in·stride) output size, split as the spec splits them.
            if (outputShape is not null && outputShape.Length != s) outputShape = outputShape.Length == s + 2 ? outputShape[2..] : throw n.Import($"output_shape has {outputShape.Length} values for {s} spatial dims");
            for (int i = 0; i < s; i++)
            {
                long size = x.Shape[2 + i].TryGetConstant() ?? throw n.Import($"needs a constant spatial size, got {x.Shape}");
                long full = (stride[i] * (size - 1)) + outputPadding[i] + (((long)kernel[i] - 1) * dilation[i]) + 1;
                long target = outputShape?[i] ?? size * stride[i];
                long total = full - target;
                if (total < 0 && outputShape is not null && -total < Math.Max(stride[i], dilation[i]))
                {
                    // A requested size past the full output: the extra rows are output padding (the spec's implicit output_padding).
                    outputPadding[i] += (int)-total;
                    total = 0;
                }

                if (total < 0 || total > int.MaxValue) throw n.Import($"output size {target} is not reachable from input size {size}");
                int small = (int)(total / 2), large = (int)(total - small);
                (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small);
            }
        }
        else if (autoPad == "NOTSET")
        {
            var pads = Ints(n, "pads", 2 * s, 0);
            for (int i = 0; i < s; i++) (begin[i], end[i]) = (pads[i], pads[s + i]);
        }
        else if (autoPad != "VALID")
        {
            throw n.Import($"auto_pad='{autoPad}' is not defined");
        }

        // The IR's pads are symmetric: it trims the common part, the rest is sliced off the output.
        var sym = begin.Zip(end, Math.Min).ToArray();
        int groups = checked((int)n.Attrs.Int("group", 1));
        var y = IrBuilder.ConvTranspose(x, w, bias, stride, sym, outputPadding, dilation, groups);
        for (int i = 0; i < s; i++)
        {
            int lo = begin[i] - sym[i], hi = end[i] - sym[i];
            if (lo == 0 && hi == 0) continue;
            var len = y.Shape[2 + i];
            y = Narrow(y, 2 + i, lo, len - lo - hi);
        }

        return NodeImport.One(y);
    }
}
