using Candle.Runtime.Tensors;

namespace Candle.Onnx;

/// <summary>Serialized TensorProto files, the format of the inputs and expected outputs of ONNX's backend node tests.</summary>
public static class OnnxTensorFile
{
    /// <summary>Reads one TensorProto file (<c>input_0.pb</c>, <c>output_0.pb</c>, ...).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">The file is not a readable TensorProto, or its element type is not one ONNX defines.</exception>
    /// <exception cref="OnnxImportException">Its element type is one ONNX defines that the IR has no dtype for.</exception>
    public static HostTensor Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return OnnxTensors.ReadFile(path);
    }
}
