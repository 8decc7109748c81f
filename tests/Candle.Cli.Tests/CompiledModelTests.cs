using System.Globalization;
using System.Text.Json;
using Candle.Runtime.Plans;
using Candle.Tests;
using Candle.Transformers.Generation;

namespace Candle.Cli.Tests;

/// <summary>
/// <c>candle compile</c> of a causal LM writes a compiled model directory; loaded without compiling (by
/// <c>candle generate</c> and <see cref="CompiledLanguageModel.Load"/>) it reproduces transformers' greedy
/// continuation of the llama reference (reference.json), with and without generated code.
/// </summary>
public sealed class CompiledModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("candle-cpl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int[] Prompt, int[] Expected) Reference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Model("llama"), "reference.json")));
        return (doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            doc.RootElement.GetProperty("greedy_continuation").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_compiled_llama_generates_transformers_greedy_continuation(bool noCodegen)
    {
        string cpl = Path.Combine(_dir, "llama.cpl");
        string[] args = noCodegen ? ["compile", Fixtures.Model("llama"), "-o", cpl, "--no-codegen"] : ["compile", Fixtures.Model("llama"), "-o", cpl];
        var (code, output, err) = CliRunner.Run(args);
        Assert.True(code == 0, err);
        Assert.Contains("wrote " + cpl, output, StringComparison.Ordinal);
        foreach (string f in new[] { "prefill.plan", "decode.plan", "candle-model.json", "config.json", "tokenizer.model", "generation_config.json" })
        {
            Assert.True(File.Exists(Path.Combine(cpl, f)), f);
        }

        var (prompt, expected) = Reference();
        (code, output, err) = CliRunner.Run("generate", cpl, "--prompt-ids", string.Join(",", prompt),
            "-n", expected.Length.ToString(CultureInfo.InvariantCulture), "--greedy", "--ids");
        Assert.True(code == 0, err);
        Assert.Equal("ids: " + string.Join(" ", expected), output.TrimEnd().Split('\n')[^1]);

        using var generator = CompiledLanguageModel.Load(cpl);
        Assert.IsType<Plan>(generator.Session.PrefillPlan);
        Assert.Equal(noCodegen, ((Plan)generator.Session.DecodePlan).Payload is null);
        Assert.NotNull(generator.Tokenizer);
        var result = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = expected.Length, Greedy = true });
        Assert.Equal(expected, result.GeneratedIds);
    }

    [Fact]
    public void A_damaged_manifest_is_a_clear_error()
    {
        string cpl = Path.Combine(_dir, "llama.cpl");
        var (code, _, err) = CliRunner.Run("compile", Fixtures.Model("llama"), "-o", cpl);
        Assert.True(code == 0, err);
        string manifest = Path.Combine(cpl, CompiledLanguageModel.ManifestFile);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"num_layers\": ", "\"num_layers\": -", StringComparison.Ordinal));
        var e = Assert.Throws<InvalidDataException>(() => CompiledLanguageModel.Load(cpl));
        Assert.Contains(manifest, e.Message, StringComparison.Ordinal);
        Assert.Contains("positive", e.Message, StringComparison.Ordinal);
    }
}
