using System.Text.Json;
using Candle.Runtime.Tensors;
using Candle.Runtime.Weights.SafeTensors;
using Candle.Tests;

namespace Candle.Cli.Tests;

public sealed class CliContractTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-cli-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void InspectListsSafetensorsTensors()
    {
        var (code, output, _) = CliRunner.Run("inspect", Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        Assert.Equal(0, code);
        Assert.Contains("lm_head.weight\tF32\t[512, 256]", output, StringComparison.Ordinal);
    }

    [Fact]
    public void InspectPrintsGgufMetadataAndTensors()
    {
        var (code, output, _) = CliRunner.Run("inspect", Path.Combine(Fixtures.Dir, "gguf", "llama-q4_0.gguf"));
        Assert.Equal(0, code);
        Assert.Contains("general.architecture = llama", output, StringComparison.Ordinal);
        Assert.Contains("token_embd.weight", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reference")]
    [InlineData("cpu")]
    public void EvalBertMatchesTransformers(string device)
    {
        string dir = Fixtures.Model("bert");
        string inputs = Path.Combine(_tmp, "in.safetensors");
        string outputs = Path.Combine(_tmp, "out.safetensors");
        using (var reference = SafeTensorsFile.Open(Path.Combine(dir, "reference.safetensors")))
        {
            SafeTensorsWriter.Write(inputs, new[] { "input_ids", "attention_mask", "token_type_ids" }
                .Select(n => new KeyValuePair<string, HostTensor>(n, reference.Get(n))));
        }

        var (code, _, err) = CliRunner.Run("eval", dir, "--inputs", inputs, "--out", outputs, "--device", device);
        Assert.True(code == 0, err);
        using var got = SafeTensorsFile.Open(outputs);
        using var want = SafeTensorsFile.Open(Path.Combine(dir, "reference.safetensors"));
        foreach (string name in new[] { "last_hidden_state", "pooler_output" })
        {
            float[] g = got.Get(name).ToFloat32(), w = want.Get(name).ToFloat32();
            Assert.Equal(w.Length, g.Length);
            Assert.True(MaxAbsDiff(g, w) <= 1e-4, $"{name}: max abs diff {MaxAbsDiff(g, w)}");
        }
    }

    [Fact]
    public void EvalLlamaOnMetalMatchesTransformersOrSaysWhatIsMissing()
    {
        string dir = Fixtures.Model("llama");
        string inputs = Path.Combine(_tmp, "in.safetensors");
        string outputs = Path.Combine(_tmp, "out.safetensors");
        using var want = SafeTensorsFile.Open(Path.Combine(dir, "reference.safetensors"));
        SafeTensorsWriter.Write(inputs, [new KeyValuePair<string, HostTensor>("input_ids", want.Get("input_ids"))]);
        var (code, _, err) = CliRunner.Run("eval", dir, "--inputs", inputs, "--out", outputs, "--device", "metal");
        if (Candle.Compiler.Backends.BackendRegistry.Get("metal").IsAvailable)
        {
            // On macOS the Metal device runs it; elsewhere the shim compiles the same MSL with clang++.
            Assert.True(code == 0, err);
            using var got = SafeTensorsFile.Open(outputs);
            float[] g = got.Get("logits").ToFloat32(), w = want.Get("logits").ToFloat32();
            Assert.Equal(w.Length, g.Length);
            Assert.True(MaxAbsDiff(g, w) <= 1e-4, $"logits: max abs diff {MaxAbsDiff(g, w)}");
        }
        else
        {
            Assert.Equal(1, code);
            Assert.StartsWith("error: backend 'metal' cannot run on this machine: ", err, StringComparison.Ordinal);
            Assert.Contains("clang++", err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void GenerateWithIdsEndsWithTheGreedyContinuation()
    {
        string dir = Fixtures.Model("llama");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")));
        var prompt = doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expected = doc.RootElement.GetProperty("greedy_continuation").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var (code, output, err) = CliRunner.Run("generate", dir, "--prompt-ids", string.Join(",", prompt),
            "--max-new-tokens", expected.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), "--greedy", "--ids");
        Assert.True(code == 0, err);
        string last = output.TrimEnd().Split('\n')[^1];
        Assert.Equal("ids: " + string.Join(" ", expected), last);
    }

    [Fact]
    public void BenchJsonEndsWithOneObject()
    {
        var (code, output, err) = CliRunner.Run("bench", Fixtures.Model("llama"), "--prompt-tokens", "8", "--gen-tokens", "4",
            "--threads", "1", "--repetitions", "1", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        Assert.True(doc.RootElement.GetProperty("pp_tok_s").GetDouble() > 0);
        Assert.True(doc.RootElement.GetProperty("tg_tok_s").GetDouble() > 0);
    }

    [Fact]
    public void GraphWritesOnePictureAndTextPerPass()
    {
        string outDir = Path.Combine(_tmp, "graphs");
        var (code, output, err) = CliRunner.Run("graph", Fixtures.Model("gpt2"), "--opt", "O2", "--out", outDir, "--no-svg");
        Assert.True(code == 0, err);
        Assert.NotEmpty(Directory.GetFiles(outDir, "*.dot"));
        Assert.True(File.Exists(Path.Combine(outDir, "summary.txt")));
        Assert.Contains("wrote", output, StringComparison.Ordinal);
    }

    [Fact]
    public void UserMistakesGiveOneLineAndNonZeroExit()
    {
        var (code, _, err) = CliRunner.Run("eval", Path.Combine(_tmp, "missing"), "--inputs", "x", "--out", "y");
        Assert.NotEqual(0, code);
        Assert.StartsWith("error: ", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));

        string bogus = Path.Combine(_tmp, "bogus");
        Directory.CreateDirectory(bogus);
        File.WriteAllText(Path.Combine(bogus, "config.json"), "{\"model_type\": \"nonesuch\"}");
        (code, _, err) = CliRunner.Run("generate", bogus, "--prompt-ids", "1,2", "--max-new-tokens", "2");
        Assert.NotEqual(0, code);
        Assert.Contains("nonesuch", err, StringComparison.Ordinal);
        Assert.Contains("llama", err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));

        (code, _, err) = CliRunner.Run("generate", Fixtures.Model("llama"), "--prompt-ids", "1,x");
        Assert.NotEqual(0, code);
        Assert.Contains("'x'", err, StringComparison.Ordinal);
    }

    private static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();
}
