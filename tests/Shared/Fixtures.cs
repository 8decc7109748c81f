namespace Candle.Tests;

/// <summary>Locates the test fixtures (copies of the reference models) that travel with the repository.</summary>
internal static class Fixtures
{
    private static readonly Lazy<string> Root = new(() =>
    {
        // CANDLE_FIXTURES names the folder where a test executable runs away from the checkout (a self-extracting
        // single-file executable runs from a temporary folder); otherwise it lies above the assembly or the working directory.
        if (Environment.GetEnvironmentVariable("CANDLE_FIXTURES") is { Length: > 0 } given && Directory.Exists(given))
        {
            return Path.GetFullPath(given);
        }

        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            var dir = new DirectoryInfo(start);
            while (dir is not null)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "fixtures");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }

                dir = dir.Parent;
            }
        }

        throw new DirectoryNotFoundException($"tests/fixtures not found above {AppContext.BaseDirectory} or {Directory.GetCurrentDirectory()}");
    });

    /// <summary>The tests/fixtures folder.</summary>
    public static string Dir => Root.Value;

    /// <summary>A reference model folder such as refs/llama.</summary>
    public static string Model(string name) => Path.Combine(Root.Value, "refs", name);

    /// <summary>The names of the bundled reference models.</summary>
    public static readonly string[] ModelNames = ["llama", "gpt2", "bert", "whisper"];
}
