using Google.Protobuf;

namespace Candle.Onnx;

/// <summary>Parses protobuf files with the size and error checks every ONNX file gets.</summary>
internal static class OnnxProtoFiles
{
    /// <summary>The largest protobuf file read (protobuf's own limit); larger models keep weights in external data.</summary>
    public const long MaxFileBytes = int.MaxValue;

    /// <summary>Parses <paramref name="path"/> as a <typeparamref name="T"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">The file is too large or not a valid message.</exception>
    public static T Parse<T>(string path, MessageParser<T> parser)
        where T : IMessage<T>
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes) throw new OnnxFormatException($"{path}: {info.Length} bytes is larger than a protobuf file can be ({MaxFileBytes}); keep weights in external data");
        try
        {
            using var stream = File.OpenRead(path);
            using var input = new CodedInputStream(stream);
            var message = parser.ParseFrom(input);
            return message;
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException($"{path}: not a valid ONNX {typeof(T).Name}: {e.Message}", e);
        }
    }
}
