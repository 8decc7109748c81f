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

    [Theory]
    [InlineData("-O", "9", "error: --opt: 9 is not 0, 1, 2 or 3")]
    [InlineData("-t", "0", "error: --threads must be between 1 and")]
    public void Generate_flag_errors_name_the_flag(string flag, string value, string message)
    {
        var (code, _, err) = CliRunner.Run("generate", Fixtures.Model("llama"), "-p", "Hello", flag, value);
        Assert.Equal(1, code);
        Assert.StartsWith(message, err, StringComparison.Ordinal);
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
