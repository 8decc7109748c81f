using System.Globalization;
using Candle.Onnx.Proto;

namespace Candle.Onnx;

/// <summary>
/// What an ONNX file declares, read without mapping any op: producer, IR version, opsets, graph inputs (initializers
/// excluded) and outputs, and how many nodes of each op type the graph has.
/// </summary>
public sealed class OnnxModelInfo
{
    private OnnxModelInfo(string path, ModelProto model)
    {
        Path = path;
        var graph = model.Graph ?? throw new OnnxFormatException($"{path}: the model has no graph");
        IrVersion = model.IrVersion;
        Producer = string.IsNullOrEmpty(model.ProducerVersion) ? model.ProducerName : $"{model.ProducerName} {model.ProducerVersion}";
        Opsets = [.. model.OpsetImport.Select(o => new OnnxOpset(o.Domain == "ai.onnx" ? string.Empty : o.Domain, o.Version))];
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        Inputs = [.. graph.Input.Where(i => !initializers.Contains(i.Name)).Select(Describe)];
        Outputs = [.. graph.Output.Select(Describe)];
        InitializerCount = graph.Initializer.Count;
        OpCounts = graph.Node
            .GroupBy(n => string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}", StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The ONNX IR version.</summary>
    public long IrVersion { get; }

    /// <summary>The producer name and version.</summary>
    public string Producer { get; }

    /// <summary>The opsets imported.</summary>
    public IReadOnlyList<OnnxOpset> Opsets { get; }

    /// <summary>The graph inputs that are not initializers.</summary>
    public IReadOnlyList<OnnxTensorInfo> Inputs { get; }

    /// <summary>The graph outputs.</summary>
    public IReadOnlyList<OnnxTensorInfo> Outputs { get; }

    /// <summary>The number of initializers (weights).</summary>
    public int InitializerCount { get; }

    /// <summary>Node counts by op type (domain-qualified outside ai.onnx), sorted by name.</summary>
    public IReadOnlyDictionary<string, int> OpCounts { get; }

    /// <summary>Reads the declarations of an ONNX file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">The file is not a readable ONNX model.</exception>
    public static OnnxModelInfo Read(string path) => new(path, OnnxProtoFiles.Parse(path, ModelProto.Parser));

    internal static OnnxModelInfo From(string path, ModelProto model) => new(path, model);

    private static OnnxTensorInfo Describe(ValueInfoProto v)
    {
        if (v.Type?.TensorType is not { } tt) return new OnnxTensorInfo(v.Name, "?", null);
        var dims = tt.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        }).ToList();
        return new OnnxTensorInfo(v.Name, OnnxDataTypes.Name(tt.ElemType), dims);
    }
}
