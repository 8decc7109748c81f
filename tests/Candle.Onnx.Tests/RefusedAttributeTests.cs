using Candle.Onnx.Proto;
using Google.Protobuf;
using static Candle.Onnx.Tests.TestModels;

namespace Candle.Onnx.Tests;

/// <summary>Attribute values the importer does not compose are import errors naming the node, the op and the value.</summary>
public sealed class RefusedAttributeTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-onnx-refused-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private string Load(string op, (string Name, int Type, object[] Dims)[] inputs, long opset, params AttributeProto[] attrs)
    {
        var g = new GraphProto { Name = "g" };
        foreach (var (name, type, dims) in inputs) g.Input.Add(Value(name, type, dims));
        g.Output.Add(Value("y", 1, "n"));
        g.Node.Add(Node(op, [.. inputs.Select(i => i.Name)], ["y"], attrs));
        return Assert.Throws<OnnxImportException>(() => OnnxModel.Load(Save(_tmp, op + ".onnx", g, opset))).Message;
    }

    [Fact]
    public void RoiAlign_with_the_adaptive_sampling_grid()
    {
        string message = Load("RoiAlign", [("x", 1, [1, 1, 4, 4]), ("rois", 1, [2, 4]), ("b", 7, [2])], 22, Int("sampling_ratio", 0));
        Assert.Contains("(RoiAlign)", message, StringComparison.Ordinal);
        Assert.Contains("sampling_ratio 0", message, StringComparison.Ordinal);
    }

    [Fact]
    public void LinearAttention_with_an_unknown_update_rule_or_a_missing_decay()
    {
        (string, int, object[])[] qkv = [("q", 1, [1, 2, 8]), ("k", 1, [1, 2, 8]), ("v", 1, [1, 2, 8])];
        string message = Load("LinearAttention", qkv, 27, Int("q_num_heads", 2), Int("kv_num_heads", 2), Text("update_rule", "softmax"));
        Assert.Contains("update_rule 'softmax'", message, StringComparison.Ordinal);
        message = Load("LinearAttention", qkv, 27, Int("q_num_heads", 2), Int("kv_num_heads", 2), Text("update_rule", "gated"));
        Assert.Contains("needs decay", message, StringComparison.Ordinal);
    }

    [Fact]
    public void BitCast_of_a_float8_type()
    {
        string message = Load("BitCast", [("x", 17, [4])], 26, Int("to", 2));
        Assert.Contains("(BitCast)", message, StringComparison.Ordinal);
        Assert.Contains("FLOAT8E4M3FN", message, StringComparison.Ordinal);
    }
}
