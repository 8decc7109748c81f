using Candle.Compiler.Ir;
using Candle.Onnx.Proto;

namespace Candle.Onnx;

/// <summary>
/// An ONNX model imported into the IR: the graph (inputs and outputs named as the ONNX graph's, dimension params as
/// symbolic dims, initializers as named constants) and the file's declarations.
/// </summary>
public sealed class OnnxModel
{
    private OnnxModel(Graph graph, OnnxModelInfo info)
    {
        Graph = graph;
        Info = info;
    }

    /// <summary>The imported graph.</summary>
    public Graph Graph { get; }

    /// <summary>What the file declares (opsets, inputs, outputs, op counts).</summary>
    public OnnxModelInfo Info { get; }

    /// <summary>Reads and imports an ONNX file; external data files are resolved relative to it.</summary>
    /// <param name="path">The .onnx file.</param>
    /// <param name="options">Inputs fixed at import, ...; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">The file is malformed (the message names the file and the node or tensor).</exception>
    /// <exception cref="OnnxImportException">An op, attribute or type cannot be mapped (the message names the file, the node, and for an unsupported op its domain and opset).</exception>
    public static OnnxModel Load(string path, OnnxImportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var proto = OnnxProtoFiles.Parse(path, ModelProto.Parser);
        var info = OnnxModelInfo.From(path, proto);
        return new OnnxModel(OnnxImporter.Import(path, proto, options ?? new OnnxImportOptions()), info);
    }

    /// <summary>The op types the importer maps ("domain:OpType" outside the default domain).</summary>
    public static IEnumerable<string> SupportedOps => Ops.OnnxOpTable.OpTypes;
}
