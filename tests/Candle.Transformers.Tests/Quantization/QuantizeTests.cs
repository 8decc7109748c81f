using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Tests;
using Candle.Transformers.Models;
using Candle.Transformers.Quantization;
using Candle.Transformers.Tests.Gguf;
using Candle.Transformers.Tests.LlamaCpp;
using LLama;
using LLama.Native;
using Xunit.Abstractions;

namespace Candle.Transformers.Tests.Quantization;

/// <summary>
/// <see cref="GgufQuantizer"/> on the tiny Llama: the files llama.cpp's llama-quantize wrote from the same weights
/// (tests/fixtures/gguf) are reproduced tensor for tensor, and every preset's output loads both here and in llama.cpp
/// (LLamaSharp) with logits that agree.
/// </summary>
public sealed class QuantizeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-quantize-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("Q8_0", "q8_0")]
    [InlineData("Q4_0", "q4_0")]
    [InlineData("Q4_K_M", "q4_k_m")]
    public void TheHuggingFaceDirectoryQuantizesToLlamaQuantizesTensors(string preset, string fixture)
    {
        string path = Path.Combine(_dir, $"{fixture}.gguf");
        GgufQuantizer.Quantize(Fixtures.Model("llama"), path, QuantizePreset.Parse(preset));
        using var ours = GgufFile.Open(path);
        using var theirs = GgufFile.Open(GgufFixtures.File(fixture));
        // llama-quantize writes tensors by layer, then name (the q8_0 fixture came from the converter, in its own order).
        Assert.Equal(theirs.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal), ours.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        if (preset != "Q8_0") Assert.Equal(theirs.Tensors.Select(t => t.Name), ours.Tensors.Select(t => t.Name));
        foreach (var t in theirs.Tensors)
        {
            var o = ours.GetInfo(t.Name);
            Assert.True(t.Type == o.Type, $"{t.Name}: {o.Type}, llama.cpp wrote {t.Type}");
            Assert.Equal(t.GgmlDims, o.GgmlDims);
            Assert.True(theirs.GetRawData(t.Name).Span.SequenceEqual(ours.GetRawData(t.Name).Span), $"{t.Name}: bytes differ");
        }

        Assert.Equal(theirs.Metadata.GetInteger("general.file_type"), ours.Metadata.GetInteger("general.file_type"));
        Assert.Equal(theirs.Metadata.GetStringArray("tokenizer.ggml.tokens"), ours.Metadata.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal(theirs.Metadata.GetInt32Array("tokenizer.ggml.token_type").ToArray(), ours.Metadata.GetInt32Array("tokenizer.ggml.token_type").ToArray());
    }

    [Theory]
    [InlineData("Q4_0", 0.15, 11)]
    [InlineData("Q4_1", 0.15, 11)]
    [InlineData("Q5_0", 0.15, 11)]
    [InlineData("Q5_1", 0.15, 11)]
    [InlineData("Q8_0", 0.15, 11)]
    [InlineData("Q2_K", 0.15, 10)]
    [InlineData("Q3_K_M", 0.15, 10)]
    [InlineData("Q4_K_M", 0.15, 11)]
    [InlineData("Q5_K_M", 0.15, 11)]
    [InlineData("Q6_K", 0.15, 11)]
    [InlineData("IQ4_NL", 0.15, 11)]
    [InlineData("IQ4_XS", 0.15, 11)]
    public void EveryPresetLoadsHereAndInLlamaCppWithAgreeingLogits(string preset, double tolerance, int minArgmaxAgreement)
    {
        string path = Path.Combine(_dir, $"{preset}.gguf");
        GgufQuantizer.Quantize(Fixtures.Model("llama"), path, QuantizePreset.Parse(preset));

        var (ids, _) = GgufFixtures.Logits("q8_0", "llamacpp");
        var model = ModelRegistry.Load(path);
        var ours = ModelRunner.FullLogits(model, ids, backend: "cpu").ToFloat32();
        using var llama = new LlamaCppModel(path);
        var theirs = llama.Logits(ids);
        int vocab = theirs.Length / ids.Length;
        double err = 0;
        for (int i = 0; i < ours.Length; i++) err = Math.Max(err, Math.Abs(ours[i] - theirs[i]));
        int agree = GgufFixtures.ArgmaxAgreement(ours, theirs, vocab);
        output.WriteLine($"{preset}: max abs difference from llama.cpp {err:F4}, argmax {agree}/{ids.Length}");
        Assert.True(err <= tolerance, $"{preset}: max abs difference from llama.cpp {err}");
        // llama.cpp rounds activations to 8 bits in its quantized dot products (0.04–0.06 on this model for every type);
        // at 2–3 bits a near tie can then flip one more position.
        Assert.True(agree >= minArgmaxAgreement, $"{preset}: argmax agrees at {agree} of {ids.Length} positions");
    }

    [Theory]
    [InlineData("Q4_0", LLamaFtype.MOSTLY_Q4_0)]
    [InlineData("Q4_1", LLamaFtype.MOSTLY_Q4_1)]
    [InlineData("Q5_0", LLamaFtype.MOSTLY_Q5_0)]
    [InlineData("Q5_1", LLamaFtype.MOSTLY_Q5_1)]
    [InlineData("Q8_0", LLamaFtype.MOSTLY_Q8_0)]
    [InlineData("Q2_K", LLamaFtype.MOSTLY_Q2_K)]
    [InlineData("Q3_K_M", LLamaFtype.MOSTLY_Q3_K_M)]
    [InlineData("Q4_K_M", LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData("Q5_K_M", LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData("Q6_K", LLamaFtype.MOSTLY_Q6_K)]
    [InlineData("IQ4_NL", LLamaFtype.MOSTLY_IQ4_NL)]
    [InlineData("IQ4_XS", LLamaFtype.MOSTLY_IQ4_XS)]
    [InlineData("F16", LLamaFtype.MOSTLY_F16)]
    public void EveryPresetWritesTheTensorsLlamaCppsQuantizerWrites(string preset, LLamaFtype ftype)
    {
        // llama.cpp's own llama_model_quantize (through LLamaSharp) on our f32 conversion of the same weights.
        string f32 = Path.Combine(_dir, "f32.gguf");
        GgufQuantizer.Quantize(Fixtures.Model("llama"), f32, QuantizePreset.Parse("F32"));
        string theirsPath = Path.Combine(_dir, "theirs.gguf");
        LlamaCppModel.EnsureLoaded();
        Assert.True(LLamaQuantizer.Quantize(f32, theirsPath, ftype, 1, allowRequantize: false, quantizeOutputTensor: true));
        string oursPath = Path.Combine(_dir, "ours.gguf");
        GgufQuantizer.Quantize(f32, oursPath, QuantizePreset.Parse(preset));
        using var ours = GgufFile.Open(oursPath);
        using var theirs = GgufFile.Open(theirsPath);
        Assert.Equal(theirs.Tensors.Select(t => (t.Name, t.Type)), ours.Tensors.Select(t => (t.Name, t.Type)));
        var differing = theirs.Tensors.Where(t => !theirs.GetRawData(t.Name).Span.SequenceEqual(ours.GetRawData(t.Name).Span)).Select(t => $"{t.Name} ({t.Type})").ToList();
        output.WriteLine($"{preset}: {theirs.Tensors.Count - differing.Count}/{theirs.Tensors.Count} tensors byte-identical");
        Assert.True(differing.Count == 0, $"{preset}: bytes differ in {string.Join(", ", differing)}");
        Assert.Equal(theirs.Metadata.GetInteger("general.file_type"), ours.Metadata.GetInteger("general.file_type"));
    }

    [Fact]
    public void AGgufFileIsRequantizedWithItsMetadataKept()
    {
        string path = Path.Combine(_dir, "requantized.gguf");
        var result = GgufQuantizer.Quantize(GgufFixtures.File("q8_0"), path, QuantizePreset.Parse("Q4_K_M"));
        using var ours = GgufFile.Open(path);
        using var source = GgufFile.Open(GgufFixtures.File("q8_0"));
        using var mix = GgufFile.Open(GgufFixtures.File("q4_k_m"));
        Assert.Equal(mix.Tensors.Select(t => (t.Name, t.Type)), ours.Tensors.Select(t => (t.Name, t.Type)));
        foreach (var (key, value) in source.Metadata.Where(kv => kv.Key != "general.file_type"))
        {
            Assert.Equal(value.ToString(), ours.Metadata[key].ToString());
        }

        Assert.Equal(15, ours.Metadata.GetInteger("general.file_type"));
        Assert.Equal(21, result.Tensors);
        Assert.Equal(ours.Tensors.Sum(t => t.ByteLength), result.OutputBytes);
    }

    [Fact]
    public void TheMixesGiveMoreBitsWhereLlamaCppDoes()
    {
        // A 32-layer model: llama.cpp's use_more_bits(i, 32) is i < 4, i ≥ 28, or (i − 4) % 3 == 2.
        int[] moreBits = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31];
        var names = new List<string> { "token_embd.weight", "output_norm.weight", "output.weight" };
        for (int l = 0; l < 32; l++)
        {
            foreach (string n in new[] { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "attn_norm", "ffn_norm" })
            {
                names.Add($"blk.{l}.{n}.weight");
            }
        }

        names.Sort(LlamaTensorTypes.Compare);
        Assert.Equal("blk.2.attn_k.weight", names.SkipWhile(n => !n.StartsWith("blk.2.", StringComparison.Ordinal)).First());
        var chosen = Choose("Q4_K_M", names);
        for (int l = 0; l < 32; l++)
        {
            var expected = moreBits.Contains(l) ? GgmlType.Q6_K : GgmlType.Q4_K;
            Assert.Equal(expected, chosen[$"blk.{l}.attn_v.weight"]);
            Assert.Equal(expected, chosen[$"blk.{l}.ffn_down.weight"]);
            Assert.Equal(GgmlType.Q4_K, chosen[$"blk.{l}.attn_q.weight"]);
            Assert.Equal(GgmlType.F32, chosen[$"blk.{l}.attn_norm.weight"]);
        }

        Assert.Equal(GgmlType.Q6_K, chosen["output.weight"]);
        Assert.Equal(GgmlType.Q4_K, chosen["token_embd.weight"]);

        var q2 = Choose("Q2_K", names);
        Assert.Equal(GgmlType.Q3_K, q2["blk.5.attn_v.weight"]);     // n_gqa = 8/4 = 2 < 4
        Assert.Equal(GgmlType.Q3_K, q2["blk.5.ffn_down.weight"]);
        Assert.Equal(GgmlType.Q3_K, q2["blk.5.attn_output.weight"]);
        Assert.Equal(GgmlType.Q2_K, q2["blk.5.ffn_up.weight"]);

        var q3 = Choose("Q3_K_M", names);
        Assert.Equal(GgmlType.Q5_K, q3["blk.1.attn_v.weight"]);     // the first two attention values
        Assert.Equal(GgmlType.Q4_K, q3["blk.2.attn_v.weight"]);
        Assert.Equal(GgmlType.Q5_K, q3["blk.1.ffn_down.weight"]);   // layer < 32/16
        Assert.Equal(GgmlType.Q4_K, q3["blk.2.ffn_down.weight"]);

        var q80 = Choose("Q8_0", names);
        Assert.Equal(GgmlType.Q8_0, q80["output.weight"]);
        var q40 = Choose("Q4_0", names);
        Assert.Equal(GgmlType.Q6_K, q40["output.weight"]);

        // Tied embeddings: without output.weight the token embedding takes the output's rule.
        var tied = Choose("Q4_K_M", [.. names.Where(n => n != "output.weight")]);
        Assert.Equal(GgmlType.Q6_K, tied["token_embd.weight"]);
    }

    [Fact]
    public void RowsThatAreNotWholeBlocksFallBackAsInLlamaCpp()
    {
        var types = new LlamaTensorTypes(QuantizePreset.Parse("Q4_K_M"), pure: false, layers: 1, heads: 8, kvHeads: 8, experts: 0, ["blk.0.attn_q.weight", "blk.0.ffn_down.weight"]);
        Assert.Equal(GgmlType.Q5_0, types.Choose("blk.0.attn_q.weight", [96, 64], GgmlType.F32));   // 96 % 256 ≠ 0, 96 % 32 = 0
        Assert.Equal(GgmlType.Q8_0, types.Choose("blk.0.ffn_down.weight", [96, 64], GgmlType.F32)); // Q6_K (layer 0 of 1) → Q8_0
        var q40 = new LlamaTensorTypes(QuantizePreset.Parse("Q4_0"), pure: false, layers: 1, heads: 8, kvHeads: 8, experts: 0, ["blk.0.attn_q.weight"]);
        var e = Assert.Throws<InvalidDataException>(() => q40.Choose("blk.0.attn_q.weight", [40, 64], GgmlType.F32));
        Assert.Contains("blk.0.attn_q.weight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInputIsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => QuantizePreset.Parse("Q7_K"));
        Assert.Contains("Q7_K", e.Message, StringComparison.Ordinal);
        Assert.Equal("Q4_K_M", QuantizePreset.Parse("q4_k").Name);
        Assert.Throws<FileNotFoundException>(() => GgufQuantizer.Quantize(Path.Combine(_dir, "missing.gguf"), Path.Combine(_dir, "o.gguf"), QuantizePreset.Parse("Q4_0")));

        // A directory whose config.json has a bad size names the key.
        string bad = Path.Combine(_dir, "bad");
        Directory.CreateDirectory(bad);
        File.WriteAllText(Path.Combine(bad, "config.json"), """{"model_type": "llama", "hidden_size": -256, "num_attention_heads": 8}""");
        var ex = Assert.Throws<InvalidDataException>(() => GgufQuantizer.Quantize(bad, Path.Combine(_dir, "o.gguf"), QuantizePreset.Parse("Q4_0")));
        Assert.Contains("hidden_size", ex.Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(bad, "config.json"), """{"model_type": "gpt2"}""");
        Assert.Contains("gpt2", Assert.Throws<NotSupportedException>(() => GgufQuantizer.Quantize(bad, Path.Combine(_dir, "o.gguf"), QuantizePreset.Parse("Q4_0"))).Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, GgmlType> Choose(string preset, List<string> names)
    {
        var types = new LlamaTensorTypes(QuantizePreset.Parse(preset), pure: false, layers: 32, heads: 8, kvHeads: 4, experts: 0, names);
        return names.ToDictionary(n => n, n => types.Choose(n, n.Contains("norm", StringComparison.Ordinal) ? [4096] : [4096, 4096], GgmlType.F16));
    }
}
