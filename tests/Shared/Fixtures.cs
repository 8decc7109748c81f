namespace Candle.Tests;

/// <summary>Locates the test fixtures (copies of the reference models) that travel with the repository.</summary>
internal static class Fixtures
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }

            dir = dir.Parent;
        }

        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    });

    /// <summary>The tests/fixtures folder.</summary>
    public static string Dir => Root.Value;

    /// <summary>A reference model folder such as refs/llama.</summary>
    public static string Model(string name) => Path.Combine(Root.Value, "refs", name);

    /// <summary>The names of the bundled reference models.</summary>
    public static readonly string[] ModelNames = ["llama", "gpt2", "bert", "whisper"];
}
