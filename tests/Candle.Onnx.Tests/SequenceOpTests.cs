using Candle.Compiler;
using Candle.Compiler.Backends.Reference;
using Candle.Onnx.Proto;
using Candle.Runtime.Tensors;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Sequences and optionals built and consumed inside a graph, against values worked out by hand.</summary>
public sealed class SequenceOpTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-seq-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void Sequence_ops_split_insert_erase_count_and_concatenate()
    {
        // x = [[0,1],[2,3],[4,5],[6,7]]. split [1, 3] on axis 0 → (x[0:1], x[1:4]); insert x at 0 → (x, x[0:1], x[1:4]);
        // erase the last → (x, x[0:1]): length 2, concatenated rows 0,1,2,3,0. Split on axis 1 without keepdims gives the
        // two columns; stacked on a new axis 1 they are x again. An empty optional has no element; Optional(x) holds x.
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 4, 2));
        g.Initializer.Add(IntTensor("split", [1, 3]));
        g.Initializer.Add(IntTensor("zero", [0], scalar: true));
        g.Initializer.Add(IntTensor("last", [-1], scalar: true));
        g.Node.Add(Node("SplitToSequence", ["x", "split"], ["s1"], Int("axis", 0)));
        g.Node.Add(Node("SequenceInsert", ["s1", "x", "zero"], ["s2"]));
        g.Node.Add(Node("SequenceErase", ["s2", "last"], ["s3"]));
        g.Node.Add(Node("SequenceLength", ["s3"], ["len"]));
        g.Node.Add(Node("ConcatFromSequence", ["s3"], ["cat"], Int("axis", 0)));
        g.Node.Add(Node("SplitToSequence", ["x"], ["cols"], Int("axis", 1), Int("keepdims", 0)));
        g.Node.Add(Node("ConcatFromSequence", ["cols"], ["stacked"], Int("axis", 1), Int("new_axis", 1)));
        g.Node.Add(Node("Optional", [], ["none"]));
        g.Node.Add(Node("OptionalHasElement", ["none"], ["has"]));
        g.Node.Add(Node("Optional", ["x"], ["some"]));
        g.Node.Add(Node("OptionalGetElement", ["some"], ["got"]));
        g.Output.Add(Value("len", 7));
        g.Output.Add(Value("cat", 1, 5, 2));
        g.Output.Add(Value("stacked", 1, 4, 2));
        g.Output.Add(Value("has", 9));
        g.Output.Add(Value("got", 1, 4, 2));
        var graph = OnnxModel.Load(Save(_tmp, "seq.onnx", g, 18)).Graph;
        float[] x = [0, 1, 2, 3, 4, 5, 6, 7];
        HostTensor[] inputs = [HostTensor.FromArray(x, [4, 2])];
        using var plan = CandleCompiler.Compile(graph);
        foreach (var y in new[] { ReferenceInterpreter.Run(graph, inputs), plan.Run(inputs) })
        {
            Assert.Equal([2L], y[0].ToInt64());
            Assert.Equal([0f, 1, 2, 3, 4, 5, 6, 7, 0, 1], y[1].ToFloat32());
            Assert.Equal(x, y[2].ToFloat32());
            Assert.Equal([0L], y[3].ToInt64());
            Assert.Equal(x, y[4].ToFloat32());
        }
    }

    [Fact]
    public void A_sequence_as_a_graph_output_is_refused_naming_it()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 2));
        g.Node.Add(Node("SequenceConstruct", ["x", "x"], ["seq"]));
        g.Output.Add(new ValueInfoProto { Name = "seq" });
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(Save(_tmp, "out.onnx", g, 18)));
        Assert.Contains("graph output 'seq' is a sequence of 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SequenceAt_out_of_range_is_refused_naming_the_node_and_position()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(Value("x", 1, 2));
        g.Initializer.Add(IntTensor("p", [2], scalar: true));
        g.Node.Add(Node("SequenceConstruct", ["x", "x"], ["seq"]));
        g.Node.Add(Node("SequenceAt", ["seq", "p"], ["y"]));
        g.Output.Add(Value("y", 1, 2));
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(Save(_tmp, "at.onnx", g, 18)));
        Assert.Contains("(SequenceAt): position 2 is out of range for a sequence of 2", e.Message, StringComparison.Ordinal);
    }
}
