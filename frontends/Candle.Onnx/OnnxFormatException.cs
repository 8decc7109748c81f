namespace Candle.Onnx;

/// <summary>
/// An ONNX file that cannot be read: not a protobuf ModelProto, truncated, a field of the wrong type, a size that does
/// not add up, an external data reference out of bounds. The message names the file and, where one is involved, the
/// node or tensor.
/// </summary>
public sealed class OnnxFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnnxFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public OnnxFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public OnnxFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
