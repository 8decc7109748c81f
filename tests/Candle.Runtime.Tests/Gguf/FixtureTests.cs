using System.Text.Json;
using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Runtime.Tests.Gguf;

public sealed class FixtureTests
{
    public static readonly TheoryData<string> Files = new() { "llama-q4_0", "llama-q8_0", "llama-q4_k_m" };

    private static string GgufPath(string name) => Path.Combine(Fixtures.Dir, "gguf", name + ".gguf");

    private static JsonElement Config() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Model("llama"), "config.json"))).RootElement;

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryFixtureParsesAndEveryTensorDequantizes(string name)
    {
        using var f = GgufFile.Open(GgufPath(name));
        Assert.InRange(f.Version, 2u, 3u);
        Assert.Equal("llama", f.Architecture);
        Assert.Equal(0, f.DataOffset % f.Alignment);
        var config = Config();
        int layers = config.GetProperty("num_hidden_layers").GetInt32();
        Assert.Equal(3 + 9 * layers, f.Tensors.Count);
        foreach (var t in f.Tensors)
        {
            Assert.Equal(t.GgmlDims.Reverse().Select(d => (int)d), t.Shape);
            Assert.Equal(t.ByteLength, f.GetRawData(t.Name).Length);
            Assert.Equal(0, t.Offset % f.Alignment);
            var x = f.Dequantize(t.Name);
            Assert.Equal(t.Shape, x.Shape);
            Assert.All(x.ToFloat32(), v => Assert.True(float.IsFinite(v)));
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void MetadataMatchesTheHuggingFaceConfig(string name)
    {
        using var f = GgufFile.Open(GgufPath(name));
        var config = Config();
        var m = f.Metadata;
        Assert.Equal("llama", m.GetString("general.architecture"));
        Assert.Equal(config.GetProperty("num_hidden_layers").GetInt64(), m.GetInteger("llama.block_count"));
        Assert.Equal(config.GetProperty("hidden_size").GetInt64(), m.GetInteger("llama.embedding_length"));
        Assert.Equal(config.GetProperty("intermediate_size").GetInt64(), m.GetInteger("llama.feed_forward_length"));
        Assert.Equal(config.GetProperty("num_attention_heads").GetInt64(), m.GetInteger("llama.attention.head_count"));
        Assert.Equal(config.GetProperty("num_key_value_heads").GetInt64(), m.GetInteger("llama.attention.head_count_kv"));
        Assert.Equal(config.GetProperty("max_position_embeddings").GetInt64(), m.GetInteger("llama.context_length"));
        Assert.Equal(config.GetProperty("head_dim").GetInt64(), m.GetInteger("llama.rope.dimension_count"));
        Assert.Equal((float)config.GetProperty("rms_norm_eps").GetDouble(), m.GetFloat32("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(config.GetProperty("head_dim").GetInt64(), m.GetInteger("llama.attention.key_length"));
        Assert.Equal(config.GetProperty("vocab_size").GetInt64(), m.GetInteger("llama.vocab_size"));
        if (m.ContainsKey("llama.rope.freq_base"))
        {
            Assert.Equal((float)config.GetProperty("rope_parameters").GetProperty("rope_theta").GetDouble(), m.GetFloat32("llama.rope.freq_base"));
        }

        Assert.Equal(2u, m.GetUInt32("general.quantization_version"));
        Assert.Equal(config.GetProperty("vocab_size").GetInt32(), m.GetStringArray("tokenizer.ggml.tokens").Count);
        Assert.Equal(config.GetProperty("vocab_size").GetInt32(), m.GetFloat32Array("tokenizer.ggml.scores").Length);
        Assert.Equal(config.GetProperty("bos_token_id").GetInt64(), m.GetInteger("tokenizer.ggml.bos_token_id"));
        Assert.Equal("llama", m.GetString("tokenizer.ggml.model"));
        var embd = f.GetInfo("token_embd.weight");
        Assert.Equal([config.GetProperty("vocab_size").GetInt32(), config.GetProperty("hidden_size").GetInt32()], embd.Shape);
        Assert.Equal([(long)config.GetProperty("hidden_size").GetInt32(), config.GetProperty("vocab_size").GetInt32()], embd.GgmlDims);
    }

    [Fact]
    public void QuantizedFilesHoldTheExpectedBlockTypes()
    {
        using (var f = GgufFile.Open(GgufPath("llama-q4_k_m")))
        {
            var types = f.Tensors.Select(t => t.Type).ToHashSet();
            Assert.Contains(GgmlType.Q4_K, types);
            Assert.Contains(GgmlType.Q6_K, types);
            Assert.Equal(GgmlType.F32, f.GetInfo("output_norm.weight").Type);
        }

        using (var f = GgufFile.Open(GgufPath("llama-q8_0")))
        {
            Assert.Equal(GgmlType.Q8_0, f.GetInfo("blk.0.attn_q.weight").Type);
        }

        using (var f = GgufFile.Open(GgufPath("llama-q4_0")))
        {
            Assert.Equal(GgmlType.Q4_0, f.GetInfo("blk.0.attn_q.weight").Type);
        }
    }

    [Fact]
    public void UnpermutedQ8_0WeightsAreWithinRoundingOfTheHuggingFaceWeights()
    {
        using var ckpt = GgufLlamaCheckpoint.Open(GgufPath("llama-q8_0"));
        using var hf = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        Assert.Empty(ckpt.UnmappedNames);
        Assert.Equal(hf.Names.Order(StringComparer.Ordinal), ckpt.Names.Order(StringComparer.Ordinal));
        foreach (string name in hf.Names)
        {
            var expected = hf.Get(name).ToFloat32();
            var actual = ckpt.Get(name);
            Assert.Equal(hf.GetInfo(name).Shape, actual.Shape);
            Assert.Equal(ckpt.GetInfo(name).Shape, actual.Shape);
            var type = ckpt.File.GetInfo(ckpt.GgufName(name)).Type;
            var got = actual.ToFloat32();
            if (type == GgmlType.F32)
            {
                Assert.Equal(expected, got);
                continue;
            }

            Assert.Equal(GgmlType.Q8_0, type);
            for (int b = 0; b < expected.Length; b += 32)
            {
                // q8_0 rounds each value to a multiple of d = max|w|/127 of its 32-value block (d itself stored as f16).
                float amax = expected.AsSpan(b, 32).ToArray().Max(MathF.Abs);
                float bound = amax / 127 * 0.5f + amax * 0.001f + 1e-7f;
                for (int j = b; j < b + 32; j++)
                {
                    if (!(MathF.Abs(expected[j] - got[j]) <= bound))
                    {
                        Assert.Fail($"{name}[{j}]: {got[j]} vs {expected[j]} (bound {bound})");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData("llama-q4_0")]
    [InlineData("llama-q4_k_m")]
    public void FourBitWeightsStayWithinFourBitRoundingOfTheHuggingFaceWeights(string file)
    {
        // A wrong block layout scrambles values (errors near max|w|); 4-bit rounding stays under a tenth of it.
        using var ckpt = GgufLlamaCheckpoint.Open(GgufPath(file));
        using var hf = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        foreach (string name in hf.Names)
        {
            var expected = hf.Get(name).ToFloat32();
            var got = ckpt.Get(name).ToFloat32();
            float amax = expected.Max(MathF.Abs);
            float worst = 0;
            double meanAbs = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                float e = MathF.Abs(expected[i] - got[i]);
                worst = MathF.Max(worst, e);
                meanAbs += e;
            }

            meanAbs /= expected.Length;
            Assert.True(worst <= 0.1f * amax, $"{name} ({ckpt.File.GetInfo(ckpt.GgufName(name)).Type}): worst error {worst}, max|w| {amax}");
            Assert.True(meanAbs <= 0.02 * amax, $"{name}: mean error {meanAbs}, max|w| {amax}");
        }
    }

    [Fact]
    public void WithoutUnpermutingQAndKAreFarFromTheHuggingFaceWeights()
    {
        using var f = GgufFile.Open(GgufPath("llama-q8_0"));
        using var hf = SafeTensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        foreach (var (gguf, hfName) in new[] { ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"), ("blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight") })
        {
            var raw = f.Dequantize(gguf).ToFloat32();
            var expected = hf.Get(hfName).ToFloat32();
            float worst = raw.Zip(expected, (a, b) => MathF.Abs(a - b)).Max();
            Assert.True(worst > 0.01f, $"{gguf} already matches without un-permuting ({worst})");
        }
    }

    [Fact]
    public void CheckpointReportsHeadCountsAndScalarMetadata()
    {
        using var ckpt = GgufLlamaCheckpoint.Open(GgufPath("llama-q4_k_m"));
        Assert.Equal(8, ckpt.HeadCount);
        Assert.Equal(4, ckpt.KeyValueHeadCount);
        Assert.Equal("llama", ckpt.Metadata["general.architecture"]);
        Assert.False(ckpt.Metadata.ContainsKey("tokenizer.ggml.tokens"));
        Assert.Equal([512, 256], ckpt.GetInfo("lm_head.weight").Shape);
        Assert.Equal(DType.F32, ckpt.GetInfo("lm_head.weight").DType);
        var ex = Assert.Throws<KeyNotFoundException>(() => ckpt.Get("model.nope.weight"));
        Assert.Contains("llama-q4_k_m.gguf", ex.Message, StringComparison.Ordinal);
        Assert.Contains("model.nope.weight", ex.Message, StringComparison.Ordinal);
    }
}
