using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// MaxPool, AveragePool and LpPool. Windows the IR's pools cover (no dilation, pads within half the kernel, no
/// indices) map onto them; every other case — dilations, large or asymmetric pads without count_include_pad,
/// AveragePool's ceil_mode, LpPool, MaxPool's Indices output — is composed over static spatial sizes: the input padded
/// once, one strided slice per kernel offset, combined by maximum (with the first maximum's flat input index) or by sum,
/// an average dividing by a constant count of the positions each window covers (real elements, plus the explicit pads
/// when count_include_pad, never the ceil_mode overhang).
/// </summary>
internal static class PoolOps
{
    /// <summary>The most kernel offsets composed (one slice each).</summary>
    private const long MaxOffsets = 4096;

    private enum Kind
    {
        Max,
        Average,
        Lp,
    }

    public static void Register(Dictionary<string, OpImporter> t)
    {
        t["MaxPool"] = n => Pool(n, Kind.Max);
        t["AveragePool"] = n => Pool(n, Kind.Average);
        t["LpPool"] = n => Pool(n, Kind.Lp);
    }

    private static OnnxValue[] Pool(NodeImport n, Kind kind)
    {
        var x = n.Input(0);
        int s = x.Shape.Rank - 2;
        if (s < 1) throw n.Import($"needs X [N, C, ...], got {x.Shape}");
        bool ceil = n.Attrs.Int("ceil_mode", 0) != 0;
        bool indices = kind == Kind.Max && n.OutputCount > 1 && n.Proto.Output[1].Length > 0;
        var kernel = ConvOps.Ints(n, "kernel_shape", s, -1);
        if (kernel.Any(k => k < 1)) throw n.Import("needs attribute 'kernel_shape'");
        var stride = ConvOps.Ints(n, "strides", s, 1);
        var dilation = ConvOps.Ints(n, "dilations", s, 1);
        if (stride.Any(v => v < 1) || dilation.Any(v => v < 1)) throw n.Import("strides and dilations must be positive");
        var (begin, end) = ConvOps.Pads(n, x, kernel, stride, dilation);
        bool countPad = n.Attrs.Int("count_include_pad", 0) != 0;

        bool irPool = kind != Kind.Lp && !indices && dilation.All(d => d == 1) && !(ceil && kind == Kind.Average)
            && (kind == Kind.Max || countPad || begin.SequenceEqual(end));
        if (irPool)
        {
            var (b, e) = ((int[])begin.Clone(), (int[])end.Clone());
            if (ceil) ExtendForCeil(n, x, kernel, stride, dilation, b, e);
            var sym = b.Zip(e, Math.Min).ToArray();
            if (sym.Select((p, i) => 2 * p <= kernel[i]).All(ok => ok))
            {
                var op = kind == Kind.Max ? Op.MaxPool : Op.AvgPool;
                var (padded, symmetric) = ConvOps.SplitPads(x, b, e, kind == Kind.Max ? Lowest(x.DType) : 0);
                return NodeImport.One(IrBuilder.Pool(op, padded, kernel, stride, symmetric, countPad));
            }
        }

        return Composed(n, kind, x, kernel, stride, dilation, begin, end, ceil, countPad, indices);
    }

    private static OnnxValue[] Composed(NodeImport n, Kind kind, Node x, int[] kernel, int[] stride, int[] dilation, int[] begin, int[] end, bool ceil, bool countPad, bool indices)
    {
        int s = kernel.Length;
        var size = new long[s];
        for (int i = 0; i < s; i++) size[i] = x.Shape[2 + i].TryGetConstant() ?? throw n.Import($"needs constant spatial sizes for this window, got {x.Shape}");
        var (extendedEnd, outSize) = (new int[s], new long[s]);
        for (int i = 0; i < s; i++)
        {
            long span = (((long)kernel[i] - 1) * dilation[i]) + 1;
            long room = size[i] + begin[i] + end[i] - span;
            if (room < 0) throw n.Import($"the window ({span} wide) is larger than the padded input ({size[i] + begin[i] + end[i]}) along spatial axis {i}");
            long count = ceil ? ((room + stride[i] - 1) / stride[i]) + 1 : (room / stride[i]) + 1;
            if (ceil && (count - 1) * stride[i] >= size[i] + begin[i]) count--;
            outSize[i] = count;
            extendedEnd[i] = end[i] + (int)Math.Max(0, ((count - 1) * stride[i]) + span - (size[i] + begin[i] + end[i]));
        }

        long offsets = kernel.Aggregate(1L, (a, k) => Math.Min(a * k, MaxOffsets + 1));
        if (offsets > MaxOffsets) throw n.Import($"a window of {offsets} positions is over the {MaxOffsets} composed");
        n.Expand(4 * offsets, 0, $"composing a window of {offsets} positions");
        var pad = new int[2 * s];
        for (int i = 0; i < s; i++) (pad[2 * (s - 1 - i)], pad[(2 * (s - 1 - i)) + 1]) = (begin[i], extendedEnd[i]);
        double p = n.Attrs.Int("p", 2);
        var source = kind switch
        {
            Kind.Lp => p == 2 ? Binary(Op.Mul, x, x) : Binary(Op.Pow, Unary(Op.Abs, x), Scalar(p, x.DType)),
            _ => x,
        };
        var padded = Pad(source, pad, kind == Kind.Max ? Lowest(x.DType) : 0);
        Node? index = null;
        if (indices)
        {
            long total = x.Shape.Numel.TryGetConstant() ?? throw n.Import($"the Indices output needs a static input shape, got {x.Shape}");
            n.Expand(0, total, $"an index table of {total} elements");
            var flat = new long[total];
            bool columnMajor = n.Attrs.Int("storage_order", 0) != 0;
            for (long i = 0; i < total; i++) flat[i] = columnMajor ? ColumnMajor(i, size) : i;
            index = Pad(Constant(HostTensor.FromArray(flat, [.. x.Shape.Select(d => checked((int)d.Value))])), pad, -1);
        }

        Node? acc = null, accIndex = null;
        var offset = new int[s];
        for (long o = 0; o < offsets; o++)
        {
            long rest = o;
            for (int i = s - 1; i >= 0; i--) (offset[i], rest) = ((int)(rest % kernel[i]), rest / kernel[i]);
            var window = Window(padded, offset, dilation, stride, outSize);
            if (acc is null)
            {
                (acc, accIndex) = (window, index is null ? null : Window(index, offset, dilation, stride, outSize));
                continue;
            }

            if (kind == Kind.Max)
            {
                if (index is not null)
                {
                    var better = Binary(Op.Gt, window, acc); // strictly greater: the first maximum keeps its index
                    accIndex = Where(better, Window(index, offset, dilation, stride, outSize), accIndex!);
                }

                acc = Binary(Op.Maximum, acc, window);
            }
            else
            {
                acc = Binary(Op.Add, acc, window);
            }
        }

        var y = acc!;
        if (kind == Kind.Lp) y = p == 2 ? Unary(Op.Sqrt, y) : Binary(Op.Pow, y, Scalar(1 / p, y.DType));
        if (kind == Kind.Average) y = Binary(Op.Div, y, Cast(Constant(Counts(size, kernel, stride, dilation, begin, end, outSize, countPad)), y.DType));
        return indices ? [new OnnxValue(y), new OnnxValue(accIndex!)] : NodeImport.One(y);
    }

    /// <summary>
    /// storage_order=1: the index of row-major element <paramref name="flat"/> with the spatial axes counted
    /// column-major (the first spatial axis fastest) within each [N, C] plane.
    /// </summary>
    private static long ColumnMajor(long flat, long[] size)
    {
        long plane = size.Aggregate(1L, (a, b) => a * b);
        long rest = flat % plane, index = 0, stride = 1;
        var at = new long[size.Length];
        for (int i = size.Length - 1; i >= 0; i--) (at[i], rest) = (rest % size[i], rest / size[i]);
        for (int i = 0; i < size.Length; i++) (index, stride) = (index + (at[i] * stride), stride * size[i]);
        return (flat - (flat % plane)) + index;
    }

    /// <summary>The elements at one kernel offset of every window: a strided slice per spatial axis.</summary>
    private static Node Window(Node padded, int[] offset, int[] dilation, int[] stride, long[] outSize)
    {
        var w = padded;
        for (int i = 0; i < offset.Length; i++)
        {
            long start = (long)offset[i] * dilation[i];
            w = Narrow(w, 2 + i, Dim.Of(start), Dim.Of(((outSize[i] - 1) * stride[i]) + 1), stride[i]);
        }

        return w;
    }

    /// <summary>
    /// The number of positions each averaging window covers, a product over the spatial axes: positions inside the
    /// input, plus those in the explicit pads when <paramref name="countPad"/>.
    /// </summary>
    private static HostTensor Counts(long[] size, int[] kernel, int[] stride, int[] dilation, int[] begin, int[] end, long[] outSize, bool countPad)
    {
        int s = size.Length;
        var perAxis = new double[s][];
        for (int i = 0; i < s; i++)
        {
            perAxis[i] = new double[outSize[i]];
            long lo = countPad ? -begin[i] : 0, hi = countPad ? size[i] + end[i] : size[i];
            for (long o = 0; o < outSize[i]; o++)
            {
                int c = 0;
                for (int k = 0; k < kernel[i]; k++)
                {
                    long at = (o * stride[i]) - begin[i] + ((long)k * dilation[i]);
                    if (at >= lo && at < hi) c++;
                }

                perAxis[i][o] = Math.Max(c, 1);
            }
        }

        long total = outSize.Aggregate(1L, (a, b) => a * b);
        var counts = new float[total];
        for (long f = 0; f < total; f++)
        {
            long rest = f;
            double c = 1;
            for (int i = s - 1; i >= 0; i--)
            {
                c *= perAxis[i][rest % outSize[i]];
                rest /= outSize[i];
            }

            counts[f] = (float)c;
        }

        return HostTensor.FromArray(counts, [.. outSize.Select(v => checked((int)v))]);
    }

    /// <summary>ceil_mode for the IR's pools: the end padded so that the last window (starting inside the input or its begin pad) is whole.</summary>
    private static void ExtendForCeil(NodeImport n, Node x, int[] kernel, int[] stride, int[] dilation, int[] begin, int[] end)
    {
        for (int i = 0; i < kernel.Length; i++)
        {
            long size = x.Shape[2 + i].TryGetConstant() ?? throw n.Import($"ceil_mode=1 needs a constant spatial size, got {x.Shape}");
            long span = size + begin[i] + end[i] - ((((long)kernel[i] - 1) * dilation[i]) + 1);
            if (span < 0) continue;
            long count = ((span + stride[i] - 1) / stride[i]) + 1;
            if ((count - 1) * stride[i] >= size + begin[i]) count--;
            long needed = ((count - 1) * stride[i]) + kernel[i] - (size + begin[i] + end[i]);
            if (needed > 0) end[i] += checked((int)needed);
        }
    }

    /// <summary>The value a max pool pads with: −∞ for floats, the type's least value for integers.</summary>
    private static double Lowest(DType dtype) => dtype switch
    {
        DType.U8 or DType.Bool => 0,
        DType.I8 => sbyte.MinValue,
        DType.I32 => int.MinValue,
        DType.I64 => long.MinValue,
        _ => double.NegativeInfinity,
    };
}
