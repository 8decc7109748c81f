using Candle.Runtime.Kernels.Quant;
using Candle.Runtime.Weights.Gguf;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary><c>candle quantize</c>: writes the file, reports the types it chose, and names bad input.</summary>
public sealed class QuantizeCommandTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("candle-cli-quantize-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public void QuantizesAHuggingFaceDirectoryAndTheResultGenerates()
    {
        string output = Path.Combine(_tmp, "tiny-q4_k_m.gguf");
        var (code, stdout, stderr) = CliRunner.Run("quantize", Fixtures.Model("llama"), output, "Q4_K");
        Assert.True(code == 0, stderr);
        Assert.Contains("Q4_K_M, 21 tensors (f32 5, q4_K 13, q6_K 3)", stdout, StringComparison.Ordinal);
        using (var f = GgufFile.Open(output))
        {
            Assert.Equal(GgmlType.Q6_K, f.GetInfo("output.weight").Type);
            Assert.Equal(15, f.Metadata.GetInteger("general.file_type"));
        }

        var (genCode, genOut, genErr) = CliRunner.Run("generate", output, "--prompt-ids", "1,175,196", "--max-new-tokens", "3", "--ids");
        Assert.True(genCode == 0, genErr);
        Assert.Contains("ids: ", genOut, StringComparison.Ordinal);
    }

    [Fact]
    public void ProgressGoesToStderrAndEndsWithTheTensorCountWhileStdoutStaysTheSame()
    {
        string quiet = Path.Combine(_tmp, "quiet.gguf");
        string shown = Path.Combine(_tmp, "shown.gguf");
        var (code, stdout, stderr) = CliRunner.Run("quantize", Fixtures.Model("llama"), quiet, "Q8_0");
        Assert.True(code == 0, stderr);
        var outWriter = new StringWriter();
        var errWriter = new StringWriter();
        Assert.Equal(0, CandleCli.Run(["quantize", Fixtures.Model("llama"), shown, "Q8_0"], TextReader.Null, outWriter, errWriter, progress: true));

        Assert.Equal(stdout.Replace(quiet, shown, StringComparison.Ordinal), outWriter.ToString());
        Assert.Equal(File.ReadAllBytes(quiet), File.ReadAllBytes(shown));
        using var file = GgufFile.Open(shown);
        Assert.Matches($@"(^|\n)quantized {file.Tensors.Count} tensors in \d+\.\d s\n", errWriter.ToString());
        Assert.DoesNotContain("\u001b[", errWriter.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void GenerateTokenizesAPromptWithTheGgufFilesOwnTokenizer()
    {
        string model = Path.Combine(Fixtures.Dir, "gguf", "llama-q4_0.gguf");
        var (code, stdout, stderr) = CliRunner.Run("generate", model, "--prompt", "Hello world 12", "--max-new-tokens", "2", "--ids");
        Assert.True(code == 0, stderr);
        int expected = Candle.Transformers.Tokenizers.GgufTokenizer.TryLoad(model)!.EncodeToIds("Hello world 12").Count;
        Assert.Contains($"prefill {expected} tokens", stderr, StringComparison.Ordinal);
        Assert.Contains("ids: ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void BadTypeAndMissingInputAreOneLineErrors()
    {
        var (code, _, err) = CliRunner.Run("quantize", Fixtures.Model("llama"), Path.Combine(_tmp, "x.gguf"), "Q7_K");
        Assert.Equal(1, code);
        Assert.StartsWith("error: unknown quantization type 'Q7_K'", err, StringComparison.Ordinal);

        (code, _, err) = CliRunner.Run("quantize", Path.Combine(_tmp, "missing.gguf"), Path.Combine(_tmp, "x.gguf"), "Q4_0");
        Assert.Equal(1, code);
        Assert.Contains("missing.gguf", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_tmp, "x.gguf")));
    }
}
