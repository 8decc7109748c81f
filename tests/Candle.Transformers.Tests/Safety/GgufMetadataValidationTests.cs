using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Transformers.Models;
using Candle.Transformers.Tests.Gguf;

namespace Candle.Transformers.Tests.Safety;

/// <summary>Hostile llama GGUF metadata and scales fail with one line naming the file and the key or tensor.</summary>
public sealed class GgufMetadataValidationTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Write(HfToGguf.Settings settings, GgmlType type = GgmlType.F32)
    {
        string path = _tmp.File(Guid.NewGuid().ToString("N")[..8] + ".gguf");
        using var source = SafeTensorsCheckpoint.Open(Reference.Load("llama").Dir);
        HfToGguf.Writer(source, settings, type).Write(path);
        return path;
    }

    private static void AssertFails<TException>(string path, params string[] fragments)
        where TException : Exception
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.ThrowsAny<TException>(() => ModelRegistry.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 256L << 20, $"allocated {allocated} bytes before failing: {e.Message}");
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        foreach (string f in fragments) Assert.Contains(f, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(float.NaN, 10000f, "llama.attention.layer_norm_rms_epsilon")]
    [InlineData(-1e-5f, 10000f, "llama.attention.layer_norm_rms_epsilon")]
    [InlineData(1e-5f, float.NaN, "llama.rope.freq_base")]
    [InlineData(1e-5f, float.PositiveInfinity, "llama.rope.freq_base")]
    [InlineData(1e-5f, 0f, "llama.rope.freq_base")]
    public void Nan_or_non_positive_float_metadata_names_the_key(float eps, float theta, string key)
    {
        AssertFails<GgufFormatException>(Write(HfToGguf.Settings.TinyLlama with { Eps = eps, Theta = theta }), key);
    }

    [Theory]
    [InlineData(1_000_000_000)]
    [InlineData(int.MaxValue)]
    public void A_huge_block_count_fails_before_allocating(int layers)
    {
        AssertFails<GgufFormatException>(Write(HfToGguf.Settings.TinyLlama with { Layers = layers }), "llama.block_count");
    }

    [Fact]
    public void Fewer_blocks_than_the_file_holds_is_an_error()
    {
        AssertFails<InvalidDataException>(Write(HfToGguf.Settings.TinyLlama with { Layers = 1 }), "num_hidden_layers", "unused");
    }

    [Theory]
    [InlineData(512UL)]
    [InlineData(1UL << 40)]
    public void An_eos_token_id_outside_the_vocabulary_names_the_key(ulong eos)
    {
        AssertFails<GgufFormatException>(Write(HfToGguf.Settings.TinyLlama with { Eos = eos }), "tokenizer.ggml.eos_token_id");
    }

    [Fact]
    public void A_nan_quantization_scale_names_the_tensor()
    {
        string path = Write(HfToGguf.Settings.TinyLlama, GgmlType.Q8_0);
        long offset;
        using (var file = GgufFile.Open(path)) offset = file.GetInfo("blk.1.ffn_down.weight").FileOffset;
        byte[] bytes = File.ReadAllBytes(path);
        // A q8_0 block starts with its float16 scale; 0x7E00 is a float16 NaN.
        bytes[offset] = 0x00;
        bytes[offset + 1] = 0x7E;
        File.WriteAllBytes(path, bytes);
        AssertFails<GgufFormatException>(path, "blk.1.ffn_down.weight", "NaN");
    }
}
