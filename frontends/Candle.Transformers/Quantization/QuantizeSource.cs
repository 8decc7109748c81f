using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;

namespace Candle.Transformers.Quantization;

/// <summary>One tensor of a model being quantized: its GGUF name, ggml dimensions, stored type and how to read it.</summary>
/// <param name="Name">The GGUF tensor name.</param>
/// <param name="GgmlDims">ggml's dimensions, innermost first.</param>
/// <param name="Type">The type the source stores (float32 for a converted Hugging Face tensor).</param>
/// <param name="Raw">The stored bytes (copied through when the chosen type is the stored one).</param>
/// <param name="Float32">The values as float32, row-major.</param>
internal sealed record QuantizeTensor(string Name, long[] GgmlDims, GgmlType Type, Func<ReadOnlyMemory<byte>> Raw, Func<float[]> Float32);

/// <summary>A model to quantize: GGUF metadata pairs (llama.cpp's keys) and tensors, from a GGUF file or a converted checkpoint.</summary>
internal sealed class QuantizeSource(IReadOnlyList<KeyValuePair<string, GgufValue>> metadata, IReadOnlyList<QuantizeTensor> tensors, IDisposable? owner) : IDisposable
{
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; } = metadata;

    public IReadOnlyList<QuantizeTensor> Tensors { get; } = tensors;

    public static QuantizeSource FromGguf(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var tensors = file.Tensors.Select(t => new QuantizeTensor(
                t.Name, [.. t.GgmlDims], t.Type, () => file.GetRawData(t.Name), () => file.Dequantize(t.Name).ToFloat32())).ToList();
            return new QuantizeSource([.. file.Metadata], tensors, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => owner?.Dispose();
}
