using System.Text.Json;
using Candle.Runtime.Weights.Gguf;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;
using Candle.Transformers.Generation;
using Candle.Transformers.Models;
using Candle.Transformers.Models.Common;
using Candle.Transformers.Models.Gguf;
using Candle.Transformers.Models.Llama;

namespace Candle.Transformers.Tests.Gguf;

public sealed class GgufLoadingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Config_from_metadata_matches_the_transformers_config_of_the_same_model()
    {
        using var file = GgufFile.Open(GgufFixtures.File("q4_k_m"));
        var fromGguf = LlamaConfig.FromHf(GgufHfConfig.FromFile(file));
        var fromHf = LlamaConfig.FromHf(HfConfig.Load(Fixtures.Model("llama")));
        Assert.Equal(fromHf.VocabSize, fromGguf.VocabSize);
        Assert.Equal(fromHf.HiddenSize, fromGguf.HiddenSize);
        Assert.Equal(fromHf.IntermediateSize, fromGguf.IntermediateSize);
        Assert.Equal(fromHf.NumLayers, fromGguf.NumLayers);
        Assert.Equal(fromHf.NumHeads, fromGguf.NumHeads);
        Assert.Equal(fromHf.NumKvHeads, fromGguf.NumKvHeads);
        Assert.Equal(fromHf.HeadDim, fromGguf.HeadDim);
        Assert.Equal(fromHf.RmsNormEps, fromGguf.RmsNormEps);
        Assert.Equal(fromHf.MaxPositionEmbeddings, fromGguf.MaxPositionEmbeddings);
        Assert.Equal(fromHf.TieWordEmbeddings, fromGguf.TieWordEmbeddings);
        Assert.Equal(fromHf.EosTokenIds, fromGguf.EosTokenIds);
        Assert.Equal(fromHf.BosTokenId, fromGguf.BosTokenId);
        Assert.Equal(fromHf.Rope.InvFreq, fromGguf.Rope.InvFreq);
        Assert.Equal(GgufFixtures.File("q4_k_m"), GgufHfConfig.FromFile(file).Path);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("reference")]
    public void An_f32_gguf_written_from_the_transformers_checkpoint_reproduces_transformers_logits(string backend)
    {
        // Exercises the Q/K permutation round trip and every metadata key on a model whose logits transformers computed.
        var reference = Reference.Load("llama");
        string path = _dir.File("llama-f32.gguf");
        using (var source = SafeTensorsCheckpoint.Open(reference.Dir))
        {
            HfToGguf.Writer(source, HfToGguf.Settings.TinyLlama).Write(path);
        }

        var model = ModelRegistry.Load(path);
        Assert.IsType<LlamaForCausalLM>(model);
        var ids = reference.Tensors["input_ids"];
        var logits = ModelRunner.FullLogits(model, ids.ToInt64(), batch: ids.Shape[0], backend: backend);
        double err = TestUtil.MaxAbsDiff(logits, reference.Tensors["logits"]);
        Assert.True(err <= 1e-4, $"max abs error {err}");
    }

    [Fact]
    public void Without_output_weight_the_head_is_tied_to_the_embeddings()
    {
        var reference = Reference.Load("llama");
        string path = _dir.File("tied.gguf");
        using (var source = SafeTensorsCheckpoint.Open(reference.Dir))
        {
            HfToGguf.Writer(source, HfToGguf.Settings.TinyLlama, dropLmHead: true).Write(path);
        }

        var model = (LlamaForCausalLM)ModelRegistry.Load(path);
        Assert.True(model.Settings.TieWordEmbeddings);
        Assert.Null(model.LmHead);

        // Oracle: the same checkpoint as a transformers directory with tie_word_embeddings = true (the golden-tested path).
        string dir = Path.Combine(_dir.Path, "tied-hf");
        Directory.CreateDirectory(dir);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(reference.Dir, "config.json"))).RootElement;
        var dict = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(config.GetRawText())!;
        dict["tie_word_embeddings"] = JsonDocument.Parse("true").RootElement;
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(dict));
        File.Copy(Path.Combine(reference.Dir, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        // The copied checkpoint still holds lm_head.weight, which a tied model does not read.
        var hfTied = ModelRegistry.Load(dir, new ModelLoadOptions { AllowUnusedTensors = true });
        long[] ids = ModelRunner.RandomIds(10, 7, 512);
        double err = TestUtil.MaxAbsDiff(ModelRunner.FullLogits(model, ids), ModelRunner.FullLogits(hfTied, ids));
        Assert.True(err <= 1e-5, $"max abs error {err}");
    }

    [Fact]
    public void Text_generator_loads_a_gguf_file_and_decodes_greedily_as_the_full_forward_does()
    {
        string path = GgufFixtures.File("q8_0");
        var generator = TextGenerator.Load(path, "cpu");
        Assert.IsType<Microsoft.ML.Tokenizers.SentencePieceTokenizer>(generator.Tokenizer); // the file's own tokenizer
        int[] prompt = [1, 20, 33, 400, 7];
        var result = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = 6 });
        Assert.Equal(6, result.GeneratedIds.Count);

        // Oracle: greedy decoding by full forward passes on the reference interpreter.
        var model = ModelRegistry.Load(path);
        var ids = prompt.Select(i => (long)i).ToList();
        for (int step = 0; step < 6; step++)
        {
            var logits = ModelRunner.FullLogits(model, [.. ids]).ToFloat32();
            var last = logits.AsSpan((ids.Count - 1) * 512, 512);
            int best = 0;
            for (int i = 1; i < last.Length; i++)
            {
                if (last[i] > last[best]) best = i;
            }

            Assert.Equal(best, result.GeneratedIds[step]);
            ids.Add(best);
        }

        var bench = generator.Benchmark(new BenchmarkOptions { PromptTokens = 8, GenTokens = 4, Repetitions = 1 });
        Assert.True(bench.PrefillTokensPerSecond > 0 && bench.DecodeTokensPerSecond > 0);
    }

    [Fact]
    public void Unsupported_architecture_is_named_with_the_supported_ones()
    {
        string path = _dir.File("gpt2.gguf");
        new GgufWriter().Add("general.architecture", "gpt2").Write(path);
        var e = Assert.Throws<NotSupportedException>(() => ModelRegistry.Load(path));
        Assert.Contains("'gpt2'", e.Message, StringComparison.Ordinal);
        Assert.Contains("supported: llama", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_key_is_named()
    {
        string path = _dir.File("nolayers.gguf");
        new GgufWriter().Add("general.architecture", "llama").Add("llama.embedding_length", 64u).Write(path);
        var e = Assert.Throws<GgufFormatException>(() => ModelRegistry.Load(path));
        Assert.Contains("llama.block_count", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_gguf_file_fails_with_a_gguf_error_and_directories_still_load()
    {
        string path = _dir.File("bad.gguf");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8]);
        var e = Assert.ThrowsAny<IOException>(() => ModelRegistry.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.IsType<LlamaForCausalLM>(ModelRegistry.Load(Fixtures.Model("llama")));
    }

    [Fact]
    public void Rope_scaling_keys_become_rope_parameters()
    {
        var reference = Reference.Load("llama");
        string path = _dir.File("linear.gguf");
        using (var source = SafeTensorsCheckpoint.Open(reference.Dir))
        {
            HfToGguf.Writer(source, HfToGguf.Settings.TinyLlama).Add("llama.rope.scaling.type", "linear").Add("llama.rope.scaling.factor", 4f).Write(path);
        }

        using var file = GgufFile.Open(path);
        var rope = LlamaConfig.FromHf(GgufHfConfig.FromFile(file)).Rope;
        Assert.Equal("linear", rope.Type);
        for (int i = 0; i < rope.InvFreq.Count; i++)
        {
            float expected = 1f / MathF.Pow(10000f, 2 * i / 32f) / 4f;
            Assert.Equal(expected, rope.InvFreq[i], 1e-6f);
        }
    }
}
