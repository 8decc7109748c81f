using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Dimension params become symbolic dims; shape computations over them fold at import; opset versions pick the semantics.</summary>
public sealed class SymbolicShapeTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-sym-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void Reshape_to_a_shape_computed_from_a_dimension_param_folds_and_runs_for_every_batch()
    {
        // y = Relu(Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0), [0]), [-1]))) with x: [batch, seq, 2].
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, "batch", "seq", 2));
        g.Output.Add(Value("y", 1, "batch", "flat"));
        g.Initializer.Add(IntTensor("zero", [0], scalar: true));
        g.Initializer.Add(IntTensor("axes", [0]));
        g.Initializer.Add(IntTensor("rest", [-1]));
        g.Node.Add(Node("Shape", ["x"], ["s"]));
        g.Node.Add(Node("Gather", ["s", "zero"], ["b"]));
        g.Node.Add(Node("Unsqueeze", ["b", "axes"], ["b1"]));
        g.Node.Add(Node("Concat", ["b1", "rest"], ["shape"], Int("axis", 0)));
        g.Node.Add(Node("Reshape", ["x", "shape"], ["r"]));
        g.Node.Add(Node("Relu", ["r"], ["y"]));
        var graph = OnnxModel.Load(Save(_tmp, "sym.onnx", g, 13)).Graph;

        Assert.Equal(new Shape(Dim.Sym("batch"), Dim.Sym("seq") * 2), graph.Outputs[0].Shape);
        Assert.Equal("y", graph.OutputNames[0]);
        using var plan = CandleCompiler.Compile(graph);
        foreach (int batch in new[] { 1, 3 })
        {
            var values = Enumerable.Range(0, batch * 3 * 2).Select(i => (float)(i % 2 == 0 ? -i : i)).ToArray();
            var x = HostTensor.FromArray(values, batch, 3, 2);
            float[] expected = [.. values.Select(v => Math.Max(v, 0f))];
            foreach (var y in new[] { ReferenceInterpreter.Run(graph, [x])[0], plan.Run([x])[0] })
            {
                Assert.Equal([batch, 6], y.Shape);
                Assert.Equal(expected, y.ToFloat32());
            }
        }
    }

    [Theory]
    [InlineData(11, 0.25f)] // before opset 13: softmax over the 2-d coercion at axis 1, all 4 trailing elements
    [InlineData(13, 0.5f)] // since opset 13: softmax over axis 1 alone
    public void Softmax_follows_its_opset(long opset, float expected)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1, 2, 2));
        g.Output.Add(Value("y", 1, 1, 2, 2));
        g.Node.Add(Node("Softmax", ["x"], ["y"], Int("axis", 1)));
        var graph = OnnxModel.Load(Save(_tmp, $"softmax{opset}.onnx", g, opset)).Graph;
        var y = ReferenceInterpreter.Run(graph, [HostTensor.FromArray(new float[4], 1, 2, 2)])[0];
        Assert.All(y.ToFloat32(), v => Assert.Equal(expected, v, 6));
    }

    [Theory]
    [InlineData(11)] // axes as an attribute
    [InlineData(13)] // axes as an input
    public void ReduceSum_reads_axes_where_its_opset_puts_them(long opset)
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 2, 3));
        g.Output.Add(Value("y", 1, 2));
        if (opset >= 13)
        {
            g.Initializer.Add(IntTensor("axes", [1]));
            g.Node.Add(Node("ReduceSum", ["x", "axes"], ["y"], Int("keepdims", 0)));
        }
        else
        {
            g.Node.Add(Node("ReduceSum", ["x"], ["y"], Ints("axes", 1), Int("keepdims", 0)));
        }

        var graph = OnnxModel.Load(Save(_tmp, $"sum{opset}.onnx", g, opset)).Graph;
        var y = ReferenceInterpreter.Run(graph, [HostTensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3)])[0];
        Assert.Equal([6f, 15f], y.ToFloat32());
    }
}
