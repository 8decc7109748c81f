using System.Diagnostics;
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

        var reports = new List<Candle.Runtime.Weights.LoadProgress>();
        using var generator = CompiledLanguageModel.Load(cpl, new Collect(reports));
        long planBytes = new FileInfo(Path.Combine(cpl, "prefill.plan")).Length + new FileInfo(Path.Combine(cpl, "decode.plan")).Length;
        Assert.Equal(["prefill.plan", "decode.plan"], reports.Select(r => r.Item));
        Assert.Equal((2, 2, planBytes, planBytes), (reports[^1].ItemsDone, reports[^1].ItemsTotal, reports[^1].BytesDone, reports[^1].BytesTotal));
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

    [Fact]
    public void A_manifest_value_out_of_its_range_names_the_key_not_a_type()
    {
        string cpl = Path.Combine(_dir, "llama.cpl");
        var (code, _, err) = CliRunner.Run("compile", Fixtures.Model("llama"), "-o", cpl);
        Assert.True(code == 0, err);
        string manifest = Path.Combine(cpl, CompiledLanguageModel.ManifestFile);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"max_positions\": ", "\"max_positions\": 99999999999", StringComparison.Ordinal));
        var (gen, _, genErr) = CliRunner.Run("generate", cpl, "--prompt-ids", "1,2", "-n", "1");
        Assert.Equal(1, gen);
        Assert.StartsWith($"error: {manifest}: the value of max_positions is not valid for that key", genErr, StringComparison.Ordinal);
        Assert.DoesNotContain("Candle.", genErr.Replace(manifest, "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Single(genErr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_program_with_only_the_runtime_side_packages_generates_from_a_compiled_llama()
    {
        string cpl = Path.Combine(_dir, "llama.cpl");
        var (code, _, err) = CliRunner.Run("compile", Fixtures.Model("llama"), "-o", cpl);
        Assert.True(code == 0, err);

        // The program's dependency closure has no compiler, Roslyn or ILGPU package or project.
        string program = SavedLlmPath();
        string deps = File.ReadAllText(Path.ChangeExtension(program, ".deps.json"));
        foreach (string forbidden in new[] { "Candle.Compiler", "Candle.Torch", "\"Candle.Transformers/", "Microsoft.CodeAnalysis", "ILGPU" })
        {
            Assert.DoesNotContain(forbidden, deps, StringComparison.Ordinal);
        }

        var (prompt, expected) = Reference();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { program, cpl, "--prompt-ids", string.Join(",", prompt), expected.Length.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderrTask = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the runtime-only program did not finish");
        string stderr = await stderrTask;
        Assert.True(p.ExitCode == 0, $"exit code {p.ExitCode}\n{stdout}\n{stderr}");
        var lines = stdout.TrimEnd().Split('\n');
        Assert.Equal("ids: " + string.Join(" ", expected), lines[^2]);
        // Exit code 0 also says that no compiler, Roslyn or ILGPU assembly was loaded (the plans' kernel assembly may be).
        Assert.StartsWith("assemblies: ", lines[^1], StringComparison.Ordinal);
        Assert.Contains("Candle.Runtime, Candle.Transformers.Generation", lines[^1], StringComparison.Ordinal);
    }

    private static string SavedLlmPath()
    {
        // tests/Candle.Cli.Tests/bin/<config>/<tfm>/ → examples/SavedLlm/bin/<config>/<tfm>/
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = baseDir.Name, config = baseDir.Parent!.Name;
        string root = baseDir.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string path = Path.Combine(root, "examples", "SavedLlm", "bin", config, tfm, "SavedLlm.dll");
        Assert.True(File.Exists(path), $"{path} was not built");
        return path;
    }

    private sealed class Collect(List<Candle.Runtime.Weights.LoadProgress> into) : IProgress<Candle.Runtime.Weights.LoadProgress>
    {
        public void Report(Candle.Runtime.Weights.LoadProgress value) => into.Add(value);
    }
}
