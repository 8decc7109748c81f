using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;

namespace Candle.Onnx;

/// <summary>
/// A run's outputs in the element types the graph declares. <see cref="OnnxEvaluation.Run"/> returns an output of a type
/// the IR carries in a wider dtype (int16, uint16, uint32, uint64, the float8 and 4-bit types) in its carrier; these
/// convert it back at the output, to ONNX's stored bytes or to a safetensors entry of the declared dtype.
/// </summary>
public static class OnnxDeclaredOutputs
{
    /// <summary>
    /// The outputs as safetensors entries: an output declared int16, uint16, uint32, uint64, FLOAT8E4M3FN or FLOAT8E5M2
    /// as I16, U16, U32, U64, F8_E4M3 or F8_E5M2; the carried types safetensors has no dtype for (the FNUZ float8
    /// formats, float4, the 4-bit and 2-bit integers) and every other output in the dtype it has.
    /// </summary>
    /// <param name="model">The model the outputs came from (its declared outputs).</param>
    /// <param name="outputs">The outputs of <see cref="OnnxEvaluation.Run"/>, in the graph's order.</param>
    /// <exception cref="ArgumentException">The outputs are not the model's (the message names the output).</exception>
    public static IReadOnlyList<SafeTensorsEntry> ForSafeTensors(OnnxModelInfo model, IReadOnlyList<KeyValuePair<string, HostTensor>> outputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(outputs);
        var declared = model.Outputs.ToDictionary(o => o.Name, o => o.ElementType, StringComparer.Ordinal);
        var entries = new List<SafeTensorsEntry>();
        foreach (var (name, value) in outputs)
        {
            if (!declared.TryGetValue(name, out string? type)) throw new ArgumentException($"{model.Path}: '{name}' is not one of the graph's outputs");
            string? stored = type switch
            {
                "INT16" => "I16",
                "UINT16" => "U16",
                "UINT32" => "U32",
                "UINT64" => "U64",
                "FLOAT8E4M3FN" => "F8_E4M3",
                "FLOAT8E5M2" => "F8_E5M2",
                _ => null,
            };
            entries.Add(stored is null
                ? new SafeTensorsEntry(name, value.DType.SafeTensorsName(), value.Shape, value.Data)
                : new SafeTensorsEntry(name, stored, value.Shape, Encode(value, type)));
        }

        return entries;
    }

    /// <summary>
    /// The bytes ONNX stores a tensor of <paramref name="elementType"/> in (a TensorProto's raw_data: little-endian,
    /// 4-bit values two to a byte, 2-bit values four), from the dtype <see cref="OnnxEvaluation.Run"/> returns it in.
    /// </summary>
    /// <param name="value">An output as <see cref="OnnxEvaluation.Run"/> returns it.</param>
    /// <param name="elementType">ONNX's name of the declared element type (UINT16, FLOAT8E4M3FN, ...).</param>
    /// <exception cref="ArgumentException">The type is not one ONNX defines, or is not <paramref name="value"/>'s.</exception>
    /// <exception cref="InvalidOperationException">A value is not one of the type's.</exception>
    public static byte[] Encode(HostTensor value, string elementType)
    {
        ArgumentNullException.ThrowIfNull(value);
        int code = OnnxDataTypes.CodeOf(elementType) ?? throw new ArgumentException($"'{elementType}' is not an ONNX element type", nameof(elementType));
        if (OnnxDataTypes.IsCarried(code)) return CarriedTensors.Encode(code, value);
        if (OnnxDataTypes.ToDType(code) != value.DType)
        {
            throw new ArgumentException($"a {value.DType.TorchName()} tensor is not of the declared type {elementType}", nameof(value));
        }

        return value.Data.ToArray();
    }
}
