namespace Candle.Runtime.Weights.SafeTensors;

/// <summary>
/// One tensor to write as stored bytes under any safetensors dtype name, including those no <see cref="DType"/> stands
/// for (I16, U16, U32, U64, F8_E4M3, F8_E5M2): what a frontend writes when a model declares such an output.
/// </summary>
/// <param name="Name">The tensor's name in the file.</param>
/// <param name="DType">The safetensors dtype name (F32, U16, F8_E4M3, ...).</param>
/// <param name="Shape">The dims.</param>
/// <param name="Data">The little-endian element bytes, row-major.</param>
public sealed record SafeTensorsEntry(string Name, string DType, IReadOnlyList<int> Shape, ReadOnlyMemory<byte> Data)
{
    /// <summary>The bytes one element of a safetensors dtype takes, or null for a name the format does not define.</summary>
    public static int? ElementSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => null,
    };
}
