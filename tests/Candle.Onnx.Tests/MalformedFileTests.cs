using Candle.Onnx.Proto;
using Candle.Tests;
using Google.Protobuf;

namespace Candle.Onnx.Tests;

/// <summary>Malformed files fail with a format error naming the file (and the node or tensor), never a crash or a huge allocation.</summary>
public sealed class MalformedFileTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string Case(string name) => Path.Combine(Fixtures.Dir, "onnx-node", name, "model.onnx");

    private static ModelProto Sample(string name) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(Case(name)));

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_tmp, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Write(string name, ModelProto model) => Write(name, model.ToByteArray());

    [Fact]
    public void A_truncated_file_names_the_file()
    {
        var bytes = File.ReadAllBytes(Case("test_conv_with_strides_padding"));
        for (int cut = 1; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 40))
        {
            string path = Write($"cut{cut}.onnx", bytes[..cut]);
            var e = Record.Exception(() => OnnxModel.Load(path));
            Assert.NotNull(e);
            Assert.True(e is OnnxFormatException or OnnxImportException, $"cut at {cut}: {e.GetType().Name}: {e.Message}");
            Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_field_of_the_wrong_wire_type_is_a_format_error()
    {
        // Field 7 (graph) as a varint instead of a length-delimited message.
        string path = Write("wire.onnx", [0x08, 0x07, 0x38, 0x05]);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_without_a_graph_is_a_format_error()
    {
        string path = Write("empty.onnx", []);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains("no graph", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_attribute_of_the_wrong_type_names_the_node()
    {
        var model = Sample("test_conv_with_strides_padding");
        var strides = model.Graph.Node[0].Attribute.Single(a => a.Name == "strides");
        strides.Type = AttributeProto.Types.AttributeType.Float;
        string path = Write("attr.onnx", model);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains("(Conv)", e.Message, StringComparison.Ordinal);
        Assert.Contains("attribute 'strides' is FLOAT, expected INTS", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(1L << 40)]
    public void Absurd_input_dims_are_rejected(long dim)
    {
        var model = Sample("test_abs");
        model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimValue = dim;
        string path = Write("dims.onnx", model);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains($"graph input 'x' has dimension 0 of size {dim}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_initializer_whose_dims_exceed_its_data_is_rejected_before_allocating()
    {
        var model = Sample("test_abs");
        var init = new TensorProto { Name = "w", DataType = 1 };
        init.Dims.AddRange([1L << 20, 1L << 20]);
        init.RawData = ByteString.CopyFrom(new byte[16]);
        model.Graph.Initializer.Add(init);
        string path = Write("init.onnx", model);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains("initializer 'w'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_initializer_with_too_few_values_is_rejected()
    {
        var model = Sample("test_abs");
        var init = new TensorProto { Name = "w", DataType = 1 };
        init.Dims.Add(4);
        init.FloatData.AddRange([1f, 2f]);
        model.Graph.Initializer.Add(init);
        string path = Write("few.onnx", model);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains("needs 4 values in float_data, found 2", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../outside.bin", "outside the model's directory")]
    [InlineData("/etc/passwd", "outside the model's directory")]
    [InlineData("missing.bin", "does not exist")]
    [InlineData("weights.bin", "at offset 8")]
    public void External_data_is_resolved_beside_the_model_and_bounds_checked(string location, string message)
    {
        File.WriteAllBytes(Path.Combine(_tmp, "weights.bin"), new byte[16]);
        var model = Sample("test_abs");
        var init = new TensorProto { Name = "w", DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
        init.Dims.Add(4);
        init.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        init.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "8" });
        model.Graph.Initializer.Add(init);
        string path = Write("ext.onnx", model);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void External_data_in_bounds_is_read()
    {
        var bytes = new byte[24];
        BitConverter.GetBytes(-2.5f).CopyTo(bytes, 8);
        File.WriteAllBytes(Path.Combine(_tmp, "weights.bin"), bytes);
        var model = Sample("test_abs");
        var init = new TensorProto { Name = "w", DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
        init.Dims.Add(4);
        init.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        init.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "8" });
        init.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "16" });
        model.Graph.Initializer.Add(init);
        model.Graph.Output[0].Name = "w";
        string path = Write("ext-ok.onnx", model);
        var graph = OnnxModel.Load(path).Graph;
        var w = Candle.Compiler.Backends.Reference.ReferenceInterpreter.Run(graph, [Candle.Runtime.Tensors.HostTensor.Zeros(Candle.Runtime.DType.F32, 3, 4, 5)])[0];
        Assert.Equal([-2.5f, 0f, 0f, 0f], w.ToFloat32());
    }

    [Fact]
    public void An_unsupported_op_names_the_op_its_domain_and_opset()
    {
        var model = Sample("test_abs");
        model.Graph.Node[0].OpType = "NoSuchOp";
        string path = Write("op.onnx", model);
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path));
        Assert.Contains($"{path}: node", e.Message, StringComparison.Ordinal);
        Assert.Contains("op 'NoSuchOp' of domain 'ai.onnx' (opset 13) is not supported", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_input_no_node_produces_names_the_node()
    {
        var model = Sample("test_abs");
        model.Graph.Node[0].Input[0] = "nowhere";
        string path = Write("dangling.onnx", model);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.Contains("input 'nowhere' is not a graph input", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shape_read_from_the_file_cannot_size_a_huge_tensor()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(TestModels.Value("x", 1, 1));
        g.Output.Add(TestModels.Value("y", 1, 1));
        g.Initializer.Add(TestModels.IntTensor("shape", [1L << 30, 1L << 30]));
        g.Node.Add(TestModels.Node("ConstantOfShape", ["shape"], ["y"]));
        string path = TestModels.Save(_tmp, "huge.onnx", g, 13);
        var e = Assert.Throws<OnnxImportException>(() => OnnxModel.Load(path));
        Assert.Contains("(ConstantOfShape)", e.Message, StringComparison.Ordinal);
        Assert.Contains("elements, at most", e.Message, StringComparison.Ordinal);
    }
}
