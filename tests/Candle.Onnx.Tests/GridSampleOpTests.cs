using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using Google.Protobuf;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Volumetric GridSample (opset 20) against values computed by hand.</summary>
public sealed class GridSampleOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-grid-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    [Theory]
    [InlineData("nearest", new float[] { 0, 7, 0 })]
    [InlineData("linear", new float[] { 0, 7, 3.5f })]
    public void Volumetric_grid_reads_corners_and_interpolates_the_center(string mode, float[] expected)
    {
        // X [1, 1, 2, 2, 2] holds 0..7 (index z·4 + y·2 + x); grid points (x, y, z): the first corner, the last corner,
        // and the center, where nearest rounds 0.5 half to even (to 0) on every axis but linear averages all eight.
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1, 1, 2, 2, 2));
        g.Input.Add(Value("grid", 1, 1, 1, 1, 3, 3));
        g.Output.Add(Value("y", 1, 1, 1, 1, 1, 3));
        g.Node.Add(Node("GridSample", ["x", "grid"], ["y"], Int("align_corners", 1), Text("mode", mode)));
        var graph = OnnxModel.Load(Save(_tmp, "grid.onnx", g, 20)).Graph;
        var x = HostTensor.FromArray(Enumerable.Range(0, 8).Select(v => (float)v).ToArray(), [1, 1, 2, 2, 2]);
        var grid = HostTensor.FromArray(new float[] { -1, -1, -1, 1, 1, 1, 0, 0, 0 }, [1, 1, 1, 3, 3]);
        var reference = ReferenceInterpreter.Run(graph, [x, grid])[0];
        using var plan = CandleCompiler.Compile(graph);
        var cpu = plan.Run([x, grid])[0];
        Assert.Equal(expected, reference.ToFloat32());
        Assert.Equal(expected, cpu.ToFloat32());
    }
}
