using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Onnx.Ops;

/// <summary>
/// Col2Im, the adjoint of im2col: input [N, C·Πblock, L] holds one column per sliding block position; every element is
/// added into the (padded) image at the position its block offset and block index address, a scatter-add with constant
/// indices computed at import, and the pads are sliced off.
/// </summary>
internal static class Col2ImOps
{
    public static void Register(Dictionary<string, OpImporter> t) => t["Col2Im"] = Col2Im;

    private static OnnxValue[] Col2Im(NodeImport n)
    {
        var x = n.Input(0);
        long[] image = n.ConstInts(1, "image_shape"), block = n.ConstInts(2, "block_shape");
        int s = image.Length;
        if (s < 1 || block.Length != s) throw n.Import($"image_shape [{string.Join(", ", image)}] and block_shape [{string.Join(", ", block)}] must have the same length");
        if (x.Shape.Rank != 3 || !x.Shape.IsStatic) throw n.Import($"needs a static input [N, C·Πblock, L], got {x.Shape}");
        var dilation = ConvOps.Ints(n, "dilations", s, 1);
        var stride = ConvOps.Ints(n, "strides", s, 1);
        var pads = ConvOps.Ints(n, "pads", 2 * s, 0);
        if (image.Any(v => v < 1 || v > int.MaxValue) || block.Any(v => v < 1 || v > int.MaxValue) || stride.Any(v => v < 1) || dilation.Any(v => v < 1))
        {
            throw n.Import("image, block, strides and dilations must be positive");
        }

        long k = block.Aggregate(1L, (a, b) => a * b);
        long channels = x.Shape[1].Value / k;
        if (channels * k != x.Shape[1].Value) throw n.Import($"input channels {x.Shape[1]} are not a multiple of the block size {k}");
        var padded = new long[s];
        var counts = new long[s];
        for (int i = 0; i < s; i++)
        {
            padded[i] = image[i] + pads[i] + pads[s + i];
            long span = ((block[i] - 1) * dilation[i]) + 1;
            counts[i] = padded[i] < span ? 0 : ((padded[i] - span) / stride[i]) + 1;
        }

        long blocks = counts.Aggregate(1L, (a, b) => a * b);
        if (blocks != x.Shape[2].Value) throw n.Import($"has {x.Shape[2]} columns, but the image and block give {blocks} block positions");
        long total = padded.Aggregate(1L, (a, b) => a * b);
        if (k * blocks > 1 << 26 || total > int.MaxValue) throw n.Import("the image or the block grid is too large");

        // index[o, l]: the padded-image position of block offset o at block position l.
        n.Expand(0, k * blocks, $"an index table of {k * blocks} elements");
        var index = new long[k * blocks];
        var offset = new long[s];
        var at = new long[s];
        for (long o = 0; o < k; o++)
        {
            long r = o;
            for (int i = s - 1; i >= 0; i--) (offset[i], r) = (r % block[i], r / block[i]);
            for (long l = 0; l < blocks; l++)
            {
                long q = l;
                for (int i = s - 1; i >= 0; i--) (at[i], q) = (q % counts[i], q / counts[i]);
                long flat = 0;
                for (int i = 0; i < s; i++) flat = (flat * padded[i]) + (at[i] * stride[i]) + (offset[i] * dilation[i]);
                index[(o * blocks) + l] = flat;
            }
        }

        Dim batch = x.Shape[0], c = Dim.Of(channels);
        var columns = Reshape(x, new Shape([batch, c, Dim.Of(k * blocks)]));
        var idx = Expand(Reshape(Constant(HostTensor.FromArray(index, index.Length)), new Shape([Dim.One, Dim.One, Dim.Of(index.Length)])), columns.Shape);
        var y = ScatterAdd(Full(0, x.DType, new Shape([batch, c, Dim.Of(total)])), 2, idx, columns);
        y = Reshape(y, new Shape([batch, c, .. padded.Select(Dim.Of)]));
        for (int i = 0; i < s; i++)
        {
            if (pads[i] != 0 || pads[s + i] != 0) y = Narrow(y, 2 + i, Dim.Of(pads[i]), Dim.Of(image[i]));
        }

        return NodeImport.One(y);
    }
}
