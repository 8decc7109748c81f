using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>
/// DeformConv against properties: with zero offsets it is the ordinary convolution (the importer's Conv, a different
/// path through the IR's conv), grouped, strided, dilated and padded; offsets of whole pixels sample shifted pixels.
/// </summary>
public sealed class DeformConvOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-deform-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static TensorProto Floats(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }

    private static float[] Ramp(int count, float scale) => [.. Enumerable.Range(0, count).Select(i => MathF.Sin((i * scale) + 0.5f))];

    /// <summary>DeformConv and Conv with the same attributes, W and B over one X; both outputs from both devices.</summary>
    private (HostTensor Deform, HostTensor Conv) Run(long[] xDims, long[] wDims, long[] outHw, float[] offsets, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, [.. xDims.Cast<object>()]));
        int wCount = (int)wDims.Aggregate(1L, (a, b) => a * b);
        g.Initializer.Add(Floats("w", wDims, Ramp(wCount, 0.7f)));
        g.Initializer.Add(Floats("b", [wDims[0]], Ramp((int)wDims[0], 1.3f)));
        g.Initializer.Add(Floats("offset", [xDims[0], offsets.Length / (xDims[0] * outHw[0] * outHw[1]), outHw[0], outHw[1]], offsets));
        g.Output.Add(Value("deform", 1, "n", "c", "h", "w"));
        g.Output.Add(Value("conv", 1, "n", "c", "h", "w"));
        g.Node.Add(Node("DeformConv", ["x", "w", "offset", "b"], ["deform"], attrs));
        g.Node.Add(Node("Conv", ["x", "w", "b"], ["conv"], attrs));
        var graph = OnnxModel.Load(Save(_tmp, "deform.onnx", g, 22)).Graph;
        var x = HostTensor.FromArray(Ramp((int)xDims.Aggregate(1L, (a, b) => a * b), 0.37f), [.. xDims.Select(d => (int)d)]);
        var reference = ReferenceInterpreter.Run(graph, [x]);
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([x]);
        TensorAssert.Close(reference[0], cpu[0], "cpu deform");
        TensorAssert.Close(reference[1], cpu[1], "cpu conv");
        return (reference[0], reference[1]);
    }

    [Fact]
    public void Zero_offsets_give_the_grouped_strided_dilated_padded_convolution()
    {
        // X [2, 4, 7, 6], W [6, 2, 3, 2] in 2 groups, stride (2, 1), dilation (1, 2), pads (1, 0, 2, 1):
        // oH = (7 + 3 − 3) / 2 + 1 = 4, oW = (6 + 1 − 3) / 1 + 1 = 5; offsets [2, 2·6·2, 4, 5] of zeros (offset_group 2).
        var (deform, conv) = Run([2, 4, 7, 6], [6, 2, 3, 2], [4, 5], new float[2 * 24 * 20],
            Int("group", 2), Int("offset_group", 2), Ints("strides", 2, 1), Ints("dilations", 1, 2), Ints("pads", 1, 0, 2, 1));
        Assert.Equal([2, 6, 4, 5], deform.Shape);
        TensorAssert.Close(conv, deform, "deform with zero offsets", rtol: 1e-5, atol: 1e-6);
    }

    [Fact]
    public void Whole_pixel_offsets_sample_the_shifted_pixel()
    {
        // A 1×1 kernel of weight w (bias b) with Δy = 1, Δx = −1 reads X[p + 1, q − 1], zero outside the image.
        var (deform, _) = Run([1, 1, 3, 3], [1, 1, 1, 1], [3, 3], [.. Enumerable.Repeat(1f, 9), .. Enumerable.Repeat(-1f, 9)]);
        float w = MathF.Sin(0.5f), b = MathF.Sin(0.5f);
        var x = Ramp(9, 0.37f);
        var expected = new float[9];
        for (int p = 0; p < 3; p++)
        {
            for (int q = 0; q < 3; q++)
            {
                int sy = p + 1, sx = q - 1;
                expected[(p * 3) + q] = (sy < 3 && sx >= 0 ? w * x[(sy * 3) + sx] : 0) + b;
            }
        }

        TensorAssert.Close(HostTensor.FromArray(expected, 1, 1, 3, 3), deform, "shifted samples");
    }
}
