using Candle.Perf.Gemm;

namespace Candle.Perf.Elementwise;

/// <summary>
/// The protobuf bytes of a small ONNX model of several nodes with float32 inputs and outputs, built with the
/// protobuf writer of <see cref="OnnxMatMulModel"/>. Nodes take no attributes (each op's defaults apply).
/// </summary>
public sealed class OnnxGraph
{
    private const long FloatElementType = 1;
    private readonly List<OnnxMatMulModel.ProtoWriter> _nodes = [];
    private readonly List<OnnxMatMulModel.ProtoWriter> _inputs = [];
    private readonly List<OnnxMatMulModel.ProtoWriter> _outputs = [];

    /// <summary>Adds a float32 graph input of the given shape.</summary>
    public OnnxGraph Input(string name, params long[] shape)
    {
        _inputs.Add(ValueInfo(name, shape));
        return this;
    }

    /// <summary>Adds a float32 graph output of the given shape.</summary>
    public OnnxGraph Output(string name, params long[] shape)
    {
        _outputs.Add(ValueInfo(name, shape));
        return this;
    }

    /// <summary>Adds a node <paramref name="opType"/>(<paramref name="inputs"/>) → <paramref name="output"/> of the default domain.</summary>
    public OnnxGraph Node(string opType, string output, params string[] inputs)
    {
        var node = new OnnxMatMulModel.ProtoWriter();
        foreach (string i in inputs) node.String(1, i);
        node.String(2, output).String(3, $"{opType}_{_nodes.Count}").String(4, opType);
        _nodes.Add(node);
        return this;
    }

    /// <summary>The model bytes, importing the default domain at <paramref name="opset"/>.</summary>
    public byte[] ToModel(int opset, int irVersion = 9)
    {
        var graph = new OnnxMatMulModel.ProtoWriter();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, "candle_perf");
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        var opsetId = new OnnxMatMulModel.ProtoWriter().String(1, string.Empty).Int(2, opset);
        return new OnnxMatMulModel.ProtoWriter()
            .Int(1, irVersion)
            .String(2, "Candle.Perf")
            .Message(7, graph)
            .Message(8, opsetId)
            .ToArray();
    }

    private static OnnxMatMulModel.ProtoWriter ValueInfo(string name, long[] dims)
    {
        var shape = new OnnxMatMulModel.ProtoWriter();
        foreach (long d in dims) shape.Message(1, new OnnxMatMulModel.ProtoWriter().Int(1, d));
        var tensor = new OnnxMatMulModel.ProtoWriter().Int(1, FloatElementType).Message(2, shape);
        var type = new OnnxMatMulModel.ProtoWriter().Message(1, tensor);
        return new OnnxMatMulModel.ProtoWriter().String(1, name).Message(2, type);
    }
}
