using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>If with a run-time condition, and Loop refused when its condition depends on run-time data.</summary>
public sealed class ControlFlowOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-flow-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static AttributeProto Graph(string name, GraphProto g) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = g };

    private static TensorProto FloatScalar(string name, float v)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.FloatData.Add(v);
        return t;
    }

    [Theory]
    [InlineData(true, new float[] { 2, 3 })]
    [InlineData(false, new float[] { 2, 4 })]
    public void If_with_a_run_time_condition_selects_the_branch_output(bool cond, float[] expected)
    {
        // then: x + 1, else: x · 2, both reading the outer x = [1, 2].
        var then = new GraphProto { Name = "then" };
        then.Initializer.Add(FloatScalar("one", 1));
        then.Node.Add(Node("Add", ["x", "one"], ["t"]));
        then.Output.Add(Value("t", 1, 2));
        var otherwise = new GraphProto { Name = "else" };
        otherwise.Initializer.Add(FloatScalar("two", 2));
        otherwise.Node.Add(Node("Mul", ["x", "two"], ["e"]));
        otherwise.Output.Add(Value("e", 1, 2));
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("c", 9));
        g.Input.Add(Value("x", 1, 2));
        g.Output.Add(Value("y", 1, 2));
        g.Node.Add(Node("If", ["c"], ["y"], Graph("then_branch", then), Graph("else_branch", otherwise)));
        var graph = OnnxModel.Load(Save(_tmp, "if.onnx", g, 13)).Graph;
        HostTensor[] inputs = [HostTensor.FromArray(new[] { cond }, []), HostTensor.FromArray(new float[] { 1, 2 }, [2])];
        Assert.Equal(expected, ReferenceInterpreter.Run(graph, inputs)[0].ToFloat32());
        using var plan = CandleCompiler.Compile(graph);
        Assert.Equal(expected, plan.Run(inputs)[0].ToFloat32());
    }

    [Fact]
    public void Loop_whose_condition_is_computed_at_run_time_is_refused_naming_it()
    {
        // The body's condition is x > 0 for a run-time x: it cannot be unrolled.
        var body = new GraphProto { Name = "body" };
        body.Input.Add(Value("i", 7));
        body.Input.Add(Value("cin", 9));
        body.Input.Add(Value("s", 1, 1));
        body.Initializer.Add(FloatScalar("zero", 0));
        body.Node.Add(Node("Greater", ["s", "zero"], ["cout"]));
        body.Node.Add(Node("Identity", ["s"], ["sout"]));
        body.Output.Add(Value("cout", 9, 1));
        body.Output.Add(Value("sout", 1, 1));
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 1));
        g.Output.Add(Value("y", 1, 1));
        g.Initializer.Add(IntTensor("m", [3], scalar: true));
        g.Node.Add(Node("Loop", ["m", "", "x"], ["y"], Graph("body", body)));
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(Save(_tmp, "loop.onnx", g, 13)));
        Assert.Contains("(Loop)", e.Message, StringComparison.Ordinal);
        Assert.Contains("condition is computed at run time", e.Message, StringComparison.Ordinal);
    }
}
