namespace Candle.Onnx.Ops;

/// <summary>Maps one ONNX node onto IR nodes: one value per output the node lists.</summary>
internal delegate OnnxValue[] OpImporter(NodeImport node);
