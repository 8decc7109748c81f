using System.Text;
using System.Text.RegularExpressions;
using Candle.Tests;

namespace Candle.Cli.Tests;

/// <summary>
/// Every <c>candle …</c> line of the README's shell blocks runs as written (optional <c>[…]</c> groups left out) on the
/// bundled fixtures and exits 0; outputs go to a temporary directory. Lines whose model is <c>path/to/…</c> stand for
/// a user's model and are skipped.
/// </summary>
public sealed partial class ReadmeCommandTests : IDisposable
{
    private static readonly string Root = Path.GetFullPath(Path.Combine(Fixtures.Dir, "..", ".."));

    private readonly string _dir = Directory.CreateTempSubdirectory("candle-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Commands() => [.. CommandLines()];

    private static List<string> CommandLines()
    {
        var data = new List<string>();
        bool inShell = false;
        foreach (string raw in File.ReadAllLines(Path.Combine(Root, "README.md")))
        {
            string line = raw.Trim();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inShell = line == "```sh";
                continue;
            }

            if (inShell && line.StartsWith("candle ", StringComparison.Ordinal) && !line.Contains("path/to/", StringComparison.Ordinal)) data.Add(line);
        }

        return data;
    }

    [Fact]
    public void The_readme_lists_the_commands()
    {
        var commands = CommandLines();
        foreach (string verb in new[] { "inspect", "eval", "generate", "bench", "graph", "template", "embed", "compile", "--help" })
        {
            Assert.Contains(commands, c => c.StartsWith("candle " + verb, StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Runs_as_written(string command)
    {
        string bare = Optional().Replace(command, "");
        var args = Split(bare).Skip(1).ToList();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i].StartsWith("tests/fixtures/", StringComparison.Ordinal)) args[i] = Path.Combine(Root, args[i]);
            else if ((i > 0 && args[i - 1] is "-o" or "--out" && !args[i].Contains('/', StringComparison.Ordinal)) || args[i] == "graphs/" || IsOutputFile(args[i])) args[i] = Path.Combine(_dir, args[i]);
        }

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CandleCli.Run([.. args], TextReader.Null, stdout, stderr, progress: false);
        Assert.True(code == 0, $"{bare}\nexit {code}\n{stderr}");
        Assert.NotEqual(string.Empty, stdout.ToString());
    }

    /// <summary>A file the command writes, named without a directory (<c>tiny-q4_k_m.gguf</c>).</summary>
    private static bool IsOutputFile(string arg) =>
        !arg.StartsWith('-') && !arg.Contains('/', StringComparison.Ordinal)
        && (arg.EndsWith(".gguf", StringComparison.Ordinal) || arg.EndsWith(".plan", StringComparison.Ordinal) || arg.EndsWith(".safetensors", StringComparison.Ordinal));

    private static List<string> Split(string line)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        bool quoted = false, any = false;
        foreach (char c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (any) parts.Add(current.ToString());
                current.Clear();
                any = false;
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        if (any) parts.Add(current.ToString());
        return parts;
    }

    [GeneratedRegex(@"\s*\[[^\]]*\]")]
    private static partial Regex Optional();
}
