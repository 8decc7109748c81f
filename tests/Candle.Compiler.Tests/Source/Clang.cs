using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Candle.Compiler.Tests.Source;

/// <summary>Finds a clang on this machine and compiles C sources into shared libraries.</summary>
internal static class Clang
{
    private static readonly Lazy<string?> Found = new(Find);

    /// <summary>The clang executable, or null when none is installed.</summary>
    public static string? Path => Found.Value;

    /// <summary>Why the C tests do not run here.</summary>
    public const string MissingReason = "no clang (clang, clang-14..clang-19) on PATH or in /usr/bin: the C renderer's compile-and-run checks are skipped";

    /// <summary>Compiles <paramref name="source"/> with <c>-O2 -shared -fPIC -std=c99 -lm</c> into <paramref name="library"/>.</summary>
    public static void CompileShared(string source, string library)
    {
        string dir = System.IO.Path.GetDirectoryName(library)!;
        string file = System.IO.Path.Combine(dir, "kernels.c");
        File.WriteAllText(file, source);
        var psi = new ProcessStartInfo(Path ?? throw new InvalidOperationException(MissingReason))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-O2", "-shared", "-fPIC", "-std=c99", "-Wall", "-Werror", "-o", library, file, "-lm" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"clang failed ({p.ExitCode}):\n{err}\n--- source ---\n{source}");
    }

    private static string? Find()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX)) return null;
        string[] names = ["clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"];
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin");
        foreach (string name in names)
        {
            foreach (string dir in dirs)
            {
                string candidate = System.IO.Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }

        return null;
    }
}
