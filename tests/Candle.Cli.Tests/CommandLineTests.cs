using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary>
/// The command line as llama.cpp users type it: <c>generate</c> echoes its prompt and takes <c>-p -n -t -O</c>;
/// <c>candle</c> alone or with an unknown command shows the help, naming the unknown command.
/// </summary>
public class CommandLineTests
{
    [Fact]
    public void Generate_echoes_the_prompt_and_takes_the_short_flags()
    {
        var (code, output, err) = CliRunner.Run("generate", Fixtures.Model("llama"), "-p", "Hello", "-n", "3", "-t", "1", "-O", "1", "--greedy", "--ids");
        Assert.True(code == 0, err);
        Assert.StartsWith("Hello", output, StringComparison.Ordinal);
        string ids = output.TrimEnd().Split('\n')[^1];
        Assert.Matches(@"^ids: \d+ \d+ \d+$", ids);

        // The same greedy continuation at O2 with all threads: the flags change how, not what, is computed.
        var (code2, output2, err2) = CliRunner.Run("generate", Fixtures.Model("llama"), "--prompt", "Hello", "--max-new-tokens", "3", "--greedy", "--ids");
        Assert.True(code2 == 0, err2);
        Assert.Equal(ids, output2.TrimEnd().Split('\n')[^1]);
    }

    [Fact]
    public void The_model_can_be_given_with_m_as_in_llama_cpp()
    {
        var (code, output, err) = CliRunner.Run("generate", Fixtures.Model("llama"), "-p", "Hello", "-n", "3", "--greedy", "--ids");
        Assert.True(code == 0, err);
        var (code2, output2, err2) = CliRunner.Run("generate", "-m", Fixtures.Model("llama"), "-p", "Hello", "-n", "3", "--greedy", "--ids");
        Assert.True(code2 == 0, err2);
        Assert.Equal(output, output2);

        var (both, _, bothErr) = CliRunner.Run("generate", Fixtures.Model("llama"), "-m", Fixtures.Model("llama"), "-p", "Hello");
        Assert.Equal(1, both);
        Assert.StartsWith("error: the model is given twice", bothErr, StringComparison.Ordinal);
        var (none, _, noneErr) = CliRunner.Run("generate", "-p", "Hello");
        Assert.Equal(1, none);
        Assert.Equal("error: no model: give it as the first argument or with -m/--model\n", noneErr);
    }

    [Fact]
    public void Load_and_compile_progress_goes_to_stderr_and_ends_with_a_summary_while_stdout_stays_the_same()
    {
        string[] args = ["generate", Fixtures.Model("llama"), "-p", "Hello", "-n", "3", "--greedy", "--ids"];
        var quiet = (Out: new StringWriter(), Err: new StringWriter());
        Assert.Equal(0, CandleCli.Run(args, TextReader.Null, quiet.Out, quiet.Err, progress: false));
        var shown = (Out: new StringWriter(), Err: new StringWriter());
        Assert.Equal(0, CandleCli.Run(args, TextReader.Null, shown.Out, shown.Err, progress: true));

        Assert.Equal(quiet.Out.ToString(), shown.Out.ToString());
        Assert.StartsWith("prefill ", quiet.Err.ToString(), StringComparison.Ordinal);
        // The tiny llama's checkpoint: every tensor is read once, so the summary counts them all.
        using var checkpoint = Candle.Runtime.Weights.SafeTensors.SafeTensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        Assert.Matches(
            $@"(^|\n)loaded {checkpoint.Names.Count} tensors, [0-9.]+ (kB|MB|GB), in \d+\.\d s; compiled \d+ kernel calls \(\d+ passes\) in \d+\.\d s\n",
            shown.Err.ToString());
        Assert.DoesNotContain("\u001b[", shown.Err.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-O", "9", "error: --opt: 9 is not 0, 1, 2 or 3")]
    [InlineData("-t", "0", "error: --threads must be between 1 and")]
    [InlineData("--kv-type", "q9", "error: --kv-type: 'q9' is not f32, f16 or bf16")]
    public void Generate_flag_errors_name_the_flag(string flag, string value, string message)
    {
        var (code, _, err) = CliRunner.Run("generate", Fixtures.Model("llama"), "-p", "Hello", flag, value);
        Assert.Equal(1, code);
        Assert.StartsWith(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void An_f16_kv_cache_generates_the_greedy_tokens_of_the_f32_cache_on_the_fixtures()
    {
        // The tiny llama's greedy continuation has wide margins, so f16 rounding of the cache cannot change it.
        foreach (string model in new[] { Fixtures.Model("llama"), Path.Combine(Fixtures.Dir, "gguf", "llama-q8_0.gguf") })
        {
            var (code, output, err) = CliRunner.Run("generate", model, "--prompt-ids", "1,15,27,99", "-n", "8", "--ids", "--kv-type", "f32");
            Assert.True(code == 0, err);
            var (code16, output16, err16) = CliRunner.Run("generate", model, "--prompt-ids", "1,15,27,99", "-n", "8", "--ids", "--kv-type", "f16");
            Assert.True(code16 == 0, err16);
            string Ids(string o) => o.Split('\n').Single(l => l.StartsWith("ids:", StringComparison.Ordinal));
            Assert.Equal(Ids(output), Ids(output16));
        }
    }

    [Fact]
    public void No_command_shows_the_help()
    {
        var (code, output, err) = CliRunner.Run();
        Assert.Equal(2, code);
        Assert.Equal(string.Empty, err);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
        foreach (string command in new[] { "generate", "chat", "compile", "bench", "embed", "template" }) Assert.Contains(command, output, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_command_is_named_and_the_help_shown()
    {
        var (code, output, err) = CliRunner.Run("frobnicate", "x");
        Assert.Equal(2, code);
        Assert.Equal("error: unknown command 'frobnicate'\n", err);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
    }
}
