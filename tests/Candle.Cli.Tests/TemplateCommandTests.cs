using System.Text.Json;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary><c>candle template render</c> prints each shared case's prompt exactly, or the template's error on stderr with exit code 1.</summary>
public sealed class TemplateCommandTests
{
    public static TheoryData<string> SharedCases()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(Path.Combine(Fixtures.Dir, "chat-templates", "shared"), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SharedCases))]
    public void Renders_case_exactly(string name)
    {
        string path = Path.Combine(Fixtures.Dir, "chat-templates", "shared", name);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var (code, stdout, stderr) = CliRunner.Run("template", "render", path);
        if (doc.RootElement.TryGetProperty("expected", out var expected))
        {
            Assert.Equal(0, code);
            Assert.Equal(expected.GetString(), stdout);
        }
        else
        {
            Assert.Equal(1, code);
            Assert.Equal(string.Empty, stdout);
            Assert.Equal(doc.RootElement.GetProperty("expected_error").GetString(), stderr.TrimEnd('\n'));
        }
    }

    [Fact]
    public void Missing_file_is_a_one_line_error()
    {
        var (code, _, stderr) = CliRunner.Run("template", "render", "/no/such/case.json");
        Assert.NotEqual(0, code);
        Assert.Contains("/no/such/case.json", stderr, StringComparison.Ordinal);
    }
}

/// <summary><c>candle embed</c> prints one embedding per input, equal to the library's.</summary>
public sealed class EmbedCommandTests
{
    [Fact]
    public void Embeds_token_ids_like_the_library()
    {
        string dir = Fixtures.Model("bert");
        var (code, stdout, stderr) = CliRunner.Run("embed", dir, "--ids", "2,5,6,7,3", "--ids", "2,9,3");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var e = Candle.Transformers.Embeddings.SentenceEmbedder.Load(dir, "cpu");
        var expected = e.EmbedIds([[2, 5, 6, 7, 3], [2, 9, 3]]);
        for (int i = 0; i < 2; i++)
        {
            var got = lines[i].Split(' ').Select(x => float.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(expected[i], got);
        }
    }

    [Fact]
    public void Text_without_a_vocabulary_is_a_one_line_error()
    {
        var (code, _, stderr) = CliRunner.Run("embed", Fixtures.Model("bert"), "--text", "hello");
        Assert.Equal(1, code);
        Assert.StartsWith("error:", stderr, StringComparison.Ordinal);
    }
}
