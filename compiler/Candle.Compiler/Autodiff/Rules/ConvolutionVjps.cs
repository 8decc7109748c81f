using Candle.Compiler.Ir;
using static Candle.Compiler.Autodiff.Rules.Grad;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Autodiff.Rules;

/// <summary>
/// Rules of convolution, transposed convolution, pooling and nearest upsampling. Each differentiates an equivalent
/// primitive form over the node's inputs: a convolution is one grouped matmul of the weight with the stacked strided
/// slices of the padded input (im2col), a transposed convolution scatters a grouped matmul's per-tap products into
/// a dilated output, pooling reduces the stacked window slices (max pooling then shares a tie's gradient evenly), and
/// upsampling is an expand. Spatial dimensions must be constant (a convolution's batch may be symbolic).
/// </summary>
internal static class ConvolutionVjps
{
    public static void Register(VjpTable.Registry t)
    {
        t.Add(Op.Conv, (n, g) => CompositeVjps.Through(n, x => ConvOf(n.WithInputs([.. x])), g));
        t.Add(Op.ConvTranspose, (n, g) => CompositeVjps.Through(n, x => ConvTransposeOf(n.WithInputs([.. x])), g));
        t.Add(Op.MaxPool, (n, g) => CompositeVjps.Through(n, x => PoolOf(n.WithInputs([.. x])), g));
        t.Add(Op.AvgPool, (n, g) => CompositeVjps.Through(n, x => PoolOf(n.WithInputs([.. x])), g));
        t.Add(Op.UpsampleNearest, (n, g) => CompositeVjps.Through(n, x => UpsampleOf(n.WithInputs([.. x])), g));
    }

    private static int C(Node n, Dim d) =>
        (int)(d.TryGetConstant() ?? throw new NotSupportedException($"autodiff: {n.Op.Name()} needs constant shapes, got {n.Shape}"));

    private static int[] Spatial(Node n, Node x) => [.. x.Shape.Skip(2).Select(d => C(n, d))];

    /// <summary>Every kernel offset, the last spatial dim fastest.</summary>
    private static List<int[]> Taps(IReadOnlyList<int> kernel)
    {
        var taps = new List<int[]> { Array.Empty<int>() };
        foreach (var k in kernel)
        {
            taps = [.. taps.SelectMany(p => Enumerable.Range(0, k).Select(i => (int[])[.. p, i]))];
        }

        return taps;
    }

    /// <summary>The window slices of <paramref name="padded"/> (one per tap) stacked on a new axis 2.</summary>
    private static Node Windows(Node padded, IReadOnlyList<int> kernel, IReadOnlyList<int> stride, IReadOnlyList<int> dilation, IReadOnlyList<int> outLen)
    {
        var slices = Taps(kernel).Select(tap =>
        {
            var s = padded;
            for (int d = 0; d < tap.Length; d++)
            {
                int start = tap[d] * dilation[d];
                s = Node.Create(Op.Slice, new SliceAttrs(2 + d, start, start + ((outLen[d] - 1) * stride[d]) + 1, stride[d]), s);
            }

            return Unsqueeze(s, 2);
        });
        return Concat(slices, 2);
    }

    private static Node PadSpatial(Node x, IReadOnlyList<int> padding, double value)
    {
        if (padding.All(p => p == 0)) return x;
        int[] p = [0, 0, .. padding];
        return Node.Create(Op.Pad, new PadAttrs(p, p, value), x);
    }

    private static Node AddBias(Node y, Node bias) =>
        Add(y, Reshape(bias, new Shape([Dim.One, bias.Shape[0], .. Enumerable.Repeat(Dim.One, y.Shape.Rank - 2)])));

    private static Node ConvOf(Node n)
    {
        var a = n.Attr<ConvAttrs>();
        var (x, w) = (n.Inputs[0], n.Inputs[1]);
        var batch = x.Shape[0];
        int cin = C(n, x.Shape[1]), cout = C(n, w.Shape[0]), groups = a.Groups;
        int[] kernel = Spatial(n, w), outLen = Spatial(n, n);
        int taps = kernel.Aggregate(1, (p, k) => p * k), positions = outLen.Aggregate(1, (p, k) => p * k);
        var cols = Windows(PadSpatial(x, a.Padding, 0), kernel, a.Stride, a.Dilation, outLen);
        cols = Reshape(cols, new Shape(batch, groups, cin / groups * taps, positions));
        var wg = Expand(Reshape(w, Shape.Of(1, groups, cout / groups, cin / groups * taps)), new Shape(batch, groups, cout / groups, cin / groups * taps));
        var y = Reshape(MatMul(wg, cols), new Shape([batch, cout, .. outLen.Select(l => Dim.Of(l))]));
        return a.HasBias ? AddBias(y, n.Inputs[2]) : y;
    }

    private static Node ConvTransposeOf(Node n)
    {
        var a = n.Attr<ConvAttrs>();
        var (x, w) = (n.Inputs[0], n.Inputs[1]);
        int batch = C(n, x.Shape[0]), cin = C(n, x.Shape[1]), groups = a.Groups, coutG = C(n, w.Shape[1]);
        int[] kernel = Spatial(n, w), inLen = Spatial(n, x), outLen = Spatial(n, n);
        int taps = kernel.Aggregate(1, (p, k) => p * k), positions = inLen.Aggregate(1, (p, k) => p * k);
        int sp = kernel.Length;

        // products[b, g, (co, tap), p] = Σ_ci w[g·Cin/G + ci, co, tap] · x[b, g·Cin/G + ci, p]
        var wg = Permute(Reshape(w, Shape.Of(1, groups, cin / groups, coutG * taps)), 0, 1, 3, 2);
        wg = Expand(wg, Shape.Of(batch, groups, coutG * taps, cin / groups));
        var xg = Reshape(x, Shape.Of(batch, groups, cin / groups, positions));
        var products = Reshape(MatMul(wg, xg), new Shape([batch, groups * coutG, taps, .. inLen.Select(l => Dim.Of(l))]));

        int[] full = [.. Enumerable.Range(0, sp).Select(d => ((inLen[d] - 1) * a.Stride[d]) + ((kernel[d] - 1) * a.Dilation[d]) + 1 + (a.OutputPadding.Count > d ? a.OutputPadding[d] : 0))];
        Node? sum = null;
        var tapList = Taps(kernel);
        for (int k = 0; k < tapList.Count; k++)
        {
            var part = Select(products, 2, k);
            for (int d = 0; d < sp; d++)
            {
                var dims = part.Shape.ToArray();
                dims[2 + d] = full[d];
                int start = tapList[k][d] * a.Dilation[d];
                part = Node.Create(Op.SliceScatter, new SliceAttrs(2 + d, start, start + ((inLen[d] - 1) * a.Stride[d]) + 1, a.Stride[d]), Full(0, x.DType, new Shape(dims)), part);
            }

            sum = sum is null ? part : Add(sum, part);
        }

        var y = sum!;
        for (int d = 0; d < sp; d++) y = Narrow(y, 2 + d, a.Padding[d], outLen[d]);
        return a.HasBias ? AddBias(y, n.Inputs[2]) : y;
    }

    private static Node PoolOf(Node n)
    {
        var a = n.Attr<PoolAttrs>();
        var x = n.Inputs[0];
        int[] outLen = Spatial(n, n);
        int[] dilation = [.. a.Kernel.Select(_ => 1)];
        if (n.Op == Op.MaxPool)
        {
            return Reduce(Op.Max, Windows(PadSpatial(x, a.Padding, double.NegativeInfinity), a.Kernel, a.Stride, dilation, outLen), [2]);
        }

        var sum = Reduce(Op.Sum, Windows(PadSpatial(x, a.Padding, 0), a.Kernel, a.Stride, dilation, outLen), [2]);
        if (a.CountIncludePad) return Binary(Op.Div, sum, a.Kernel.Aggregate(1, (p, k) => p * k));
        var ones = Full(1, x.DType, new Shape([Dim.One, Dim.One, .. x.Shape.Skip(2)]));
        var count = Reduce(Op.Sum, Windows(PadSpatial(ones, a.Padding, 0), a.Kernel, a.Stride, dilation, outLen), [2]);
        return Div(sum, Expand(count, sum.Shape));
    }

    private static Node UpsampleOf(Node n)
    {
        var scale = n.Attr<UpsampleAttrs>().Scale;
        var x = n.Inputs[0];
        var s = x.Shape;
        var split = new List<Dim> { s[0], s[1] };
        var expanded = new List<Dim> { s[0], s[1] };
        for (int d = 0; d < scale.Count; d++)
        {
            split.AddRange([s[2 + d], Dim.One]);
            expanded.AddRange([s[2 + d], scale[d]]);
        }

        return Reshape(Expand(Reshape(x, new Shape(split)), new Shape(expanded)), n.Shape);
    }
}
