namespace Candle.Onnx;

/// <summary>
/// A well-formed ONNX model that cannot be mapped onto the IR: an unsupported op (named with its domain and opset), an
/// unsupported attribute value or dtype, or shapes the op does not accept. The message names the file and the node.
/// </summary>
public sealed class OnnxImportException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnnxImportException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public OnnxImportException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public OnnxImportException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
