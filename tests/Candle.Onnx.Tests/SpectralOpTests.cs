using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>DFT's one-sided, inverse one-sided and dft_length forms against transforms computed by hand.</summary>
public sealed class SpectralOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-dft-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private float[] Run(float[] x, int[] shape, int[] outShape, long? length, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, [.. shape.Cast<object>()]));
        g.Output.Add(Value("y", 1, [.. outShape.Cast<object>()]));
        if (length is { } l) g.Initializer.Add(IntTensor("len", [l], scalar: true));
        g.Node.Add(Node("DFT", length is null ? ["x"] : ["x", "len"], ["y"], [Int("axis", 1), .. attrs]));
        var graph = OnnxModel.Load(Save(_tmp, "dft.onnx", g, 17)).Graph;
        var input = HostTensor.FromArray(x, shape);
        var reference = ReferenceInterpreter.Run(graph, [input])[0];
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([input])[0];
        Assert.Equal(outShape, reference.Shape);
        TensorAssert.Close(reference, cpu, "cpu vs interpreter", rtol: 1e-5, atol: 1e-5);
        return reference.ToFloat32();
    }

    private static void Near(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5, $"element {i}: {actual[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Onesided_DFT_of_a_real_signal_keeps_the_first_half_of_the_bins()
    {
        // [1, 2, 3, 4]: X0 = 10, X1 = −2 + 2i, X2 = −2.
        Near([10, 0, -2, 2, -2, 0], Run([1, 2, 3, 4], [1, 4, 1], [1, 3, 2], null, Int("onesided", 1)));
    }

    [Fact]
    public void Inverse_onesided_DFT_restores_the_real_signal()
    {
        Near([1, 2, 3, 4], Run([10, 0, -2, 2, -2, 0], [1, 3, 2], [1, 4, 1], null, Int("onesided", 1), Int("inverse", 1)));
    }

    [Fact]
    public void Dft_length_truncates_or_zero_pads_the_signal()
    {
        Near([3, 0, -1, 0], Run([1, 2, 3, 4], [1, 4, 1], [1, 2, 2], 2));
        // [1, 2, 0, 0, 0, 0] over 6 points: X_k = 1 + 2·e^(−iπk/3).
        var expected = new float[12];
        for (int k = 0; k < 6; k++) (expected[2 * k], expected[(2 * k) + 1]) = ((float)(1 + (2 * Math.Cos(Math.PI * k / 3))), (float)(-2 * Math.Sin(Math.PI * k / 3)));
        Near(expected, Run([1, 2], [1, 2, 1], [1, 6, 2], 6));
    }
}
