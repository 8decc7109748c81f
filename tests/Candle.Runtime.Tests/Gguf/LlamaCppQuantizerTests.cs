using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Runtime.Tests.Gguf;

/// <summary>
/// The fixture GGUF files were made by llama.cpp's llama-quantize from the Hugging Face weights: quantizing those
/// weights (permuted as the converter does) with our reference quantizers must reproduce llama.cpp's bytes.
/// </summary>
public sealed class LlamaCppQuantizerTests
{
    [Theory]
    [InlineData("llama-q8_0", GgmlType.Q8_0, 10)]
    [InlineData("llama-q4_0", GgmlType.Q4_0, 10)]
    [InlineData("llama-q4_k_m", GgmlType.Q4_K, 10)]
    [InlineData("llama-q4_k_m", GgmlType.Q6_K, 3)]
    public void QuantizingTheHuggingFaceWeightsReproducesLlamaQuantizeBytes(string file, GgmlType type, int atLeast)
    {
        using var f = GgufFile.Open(Path.Combine(Fixtures.Dir, "gguf", file + ".gguf"));
        using var hf = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        int heads = (int)f.Metadata.GetInteger("llama.attention.head_count");
        int kvHeads = (int)f.Metadata.GetInteger("llama.attention.head_count_kv");
        int compared = 0;
        foreach (var t in f.Tensors.Where(t => t.Type == type))
        {
            Assert.True(LlamaGgufNames.TryToHuggingFace(t.Name, out string? hfName));
            var w = hf.Get(hfName).ToFloat32();
            int rows = t.Shape[0];
            if (hfName.EndsWith("q_proj.weight", StringComparison.Ordinal))
            {
                w = LlamaRopePermutation.Permute(w, rows, heads);
            }
            else if (hfName.EndsWith("k_proj.weight", StringComparison.Ordinal))
            {
                w = LlamaRopePermutation.Permute(w, rows, kvHeads);
            }

            var bytes = new byte[t.ByteLength];
            GgmlTypeTraits.Quantize(type, w, bytes);
            var expected = f.GetRawData(t.Name).Span;
            int firstDiff = expected.CommonPrefixLength(bytes);
            Assert.True(firstDiff == bytes.Length, $"{t.Name}: first differing byte {firstDiff} of {bytes.Length}");
            compared++;
        }

        Assert.True(compared >= atLeast, $"only {compared} {type} tensors");
    }
}
