using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Candle.Compiler.Backends.Metal;

/// <summary>
/// Compiles MSL on Linux and macOS hosts without a Metal device: clang++ (C++17) compiles the source unchanged
/// against the shim header that stands in for <c>&lt;metal_stdlib&gt;</c>, with a generated C entry per kernel
/// (<c>int cd_launch_NAME(void** buffers, const unsigned* dims, char* error, int errorBytes)</c>, dims being the
/// threadgroups of the grid then the threads of a threadgroup) that runs the grid through the shim's threadgroup
/// emulation. Compiled libraries are cached by source hash, on disk under the temp directory and in this process.
/// </summary>
internal static class MslShim
{
    private const string Flags = "-std=c++17 -O1 -shared -fPIC -Wall -Werror -Wno-unknown-attributes -Wno-unused-variable -Wno-unused-function";
    private static readonly Lazy<string?> s_clang = new(FindClang);
    private static readonly ConcurrentDictionary<string, Lazy<MslShimLibrary>> s_loaded = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, MslShimLibrary> s_generated = new(StringComparer.Ordinal);

    /// <summary>The clang++ executable, or null.</summary>
    public static string? ClangPath => s_clang.Value;

    /// <summary>Why the shim cannot compile here.</summary>
    public const string MissingReason = "no clang++ (clang++, clang++-14..clang++-19) on PATH or in /usr/bin: MSL cannot be compiled through the shim";

    /// <summary>The shim header's text (installed as <c>metal_stdlib</c> in an include directory).</summary>
    public static string Header { get; } = ReadResource("Candle.Compiler.Metal.metal_stdlib");

    /// <summary>The text of an embedded resource of this assembly.</summary>
    internal static string ReadResource(string name)
    {
        using var stream = typeof(MslShim).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded resource '{name}' is missing from {typeof(MslShim).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The C++ launchers of <paramref name="kernels"/>.</summary>
    public static string Launchers(IEnumerable<MslKernelSignature> kernels)
    {
        var sb = new StringBuilder();
        foreach (var k in kernels)
        {
            sb.Append(CultureInfo.InvariantCulture, $"extern \"C\" __attribute__((visibility(\"default\"))) int cd_launch_{k.Name}(void** buffers, const unsigned* dims, char* error, int errorBytes)\n{{\n");
            sb.Append("    return cd_shim::dispatch(dims, dims + 3, [](void* closure, const cd_shim::ThreadInfo& t) {\n");
            sb.Append("        void** b = static_cast<void**>(closure);\n        (void)b;\n        (void)t;\n");
            sb.Append(CultureInfo.InvariantCulture, $"        {k.Name}(");
            sb.AppendJoin(", ", k.Parameters.Select(Argument));
            sb.Append(");\n    }, buffers, error, errorBytes);\n}\n\n");
        }

        return sb.ToString();

        static string Argument(MslParameter p)
        {
            if (p.Builtin is null)
            {
                return p.Type.EndsWith('&')
                    ? $"*static_cast<std::remove_reference_t<{p.Type}>*>(b[{p.Buffer}])"
                    : $"({p.Type})b[{p.Buffer}]";
            }

            return p.Builtin switch
            {
                "thread_position_in_grid" or "thread_position_in_threadgroup" or "threadgroup_position_in_grid" or "threads_per_threadgroup"
                    or "threadgroups_per_grid" or "threads_per_grid" => $"cd_shim::builtin<{p.Type}>(t.{p.Builtin})",
                _ => $"({p.Type})t.{p.Builtin}",
            };
        }
    }

    /// <summary>Checks that <paramref name="msl"/> compiles against the shim (<c>clang++ -std=c++17 -fsyntax-only</c>).</summary>
    /// <exception cref="InvalidOperationException">clang++ is missing or rejects the source (the message has its diagnostics).</exception>
    public static void CheckSyntax(string msl)
    {
        string dir = Directory.CreateTempSubdirectory("candle-msl-").FullName;
        try
        {
            WriteShim(dir);
            string file = Path.Combine(dir, "kernels.metal");
            File.WriteAllText(file, msl);
            RunClang($"-std=c++17 -fsyntax-only -x c++ -Wall -Werror -Wno-unknown-attributes -Wno-unused-variable -Wno-unused-function -I {Quote(Path.Combine(dir, "shim"))} {Quote(file)}", msl);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Compiles <paramref name="msl"/> with its launchers and loads it (cached by source).</summary>
    /// <exception cref="InvalidOperationException">clang++ is missing or rejects the source (the message has its diagnostics).</exception>
    /// <exception cref="FormatException">A kernel has a parameter the launchers cannot bind.</exception>
    public static MslShimLibrary Load(string msl)
    {
        ArgumentNullException.ThrowIfNull(msl);
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Header + "\n" + Flags + "\n" + msl)))[..32];
        var lazy = s_loaded.GetOrAdd(key, k => new Lazy<MslShimLibrary>(() => Build(k, msl)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            s_loaded.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>
    /// The libraries holding <paramref name="kernels"/> (generated kernels, whose names stand for their sources):
    /// those not loaded in this process yet are compiled together, as one translation unit with the header and the
    /// prelude, in one clang++ run. Loading the kernels of many programs at once (<see cref="Preload"/>) makes one
    /// compilation of them all.
    /// </summary>
    /// <exception cref="InvalidOperationException">clang++ is missing or rejects the source.</exception>
    public static IReadOnlyDictionary<string, MslShimLibrary> LoadGenerated(IEnumerable<MslKernelSource> kernels)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        var all = kernels.DistinctBy(k => k.Name, StringComparer.Ordinal).ToList();
        var missing = all.Where(k => !s_generated.ContainsKey(k.Name)).ToList();
        if (missing.Count > 0)
        {
            string source = MetalLibrary.MslHeader + new Source.MetalRenderer().Prelude() + "\n" + string.Concat(missing.Select(k => k.Source + "\n"));
            var lib = Load(source);
            foreach (var k in missing) s_generated.TryAdd(k.Name, lib);
        }

        return all.ToDictionary(k => k.Name, k => s_generated[k.Name], StringComparer.Ordinal);
    }

    /// <summary>Compiles the generated kernels of <paramref name="programs"/> in one clang++ run, so that running them compiles nothing more.</summary>
    /// <exception cref="InvalidOperationException">clang++ is missing or rejects the source.</exception>
    public static void Preload(IEnumerable<MetalProgram> programs) => LoadGenerated(programs.SelectMany(p => p.Generated));

    private static MslShimLibrary Build(string key, string msl)
    {
        var kernels = MslKernelSignature.Parse(msl);
        string cache = Path.Combine(Path.GetTempPath(), "candle-msl-shim", key);
        string lib = Path.Combine(cache, "libkernels.so");
        if (!File.Exists(lib))
        {
            Directory.CreateDirectory(cache);
            string work = Directory.CreateTempSubdirectory("candle-msl-").FullName;
            try
            {
                WriteShim(work);
                File.WriteAllText(Path.Combine(work, "kernels.metal"), msl);
                string launch = Path.Combine(work, "launch.cpp");
                File.WriteAllText(launch, "#include \"kernels.metal\"\n#include <type_traits>\n\n" + Launchers(kernels));
                string tmp = Path.Combine(work, "libkernels.so");
                RunClang($"{Flags} -x c++ -I {Quote(Path.Combine(work, "shim"))} -o {Quote(tmp)} {Quote(launch)}", msl);
                File.Move(tmp, lib, overwrite: true);
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }

        return new MslShimLibrary(NativeLibrary.Load(lib), kernels);
    }

    private static void WriteShim(string dir)
    {
        string shim = Path.Combine(dir, "shim");
        Directory.CreateDirectory(shim);
        File.WriteAllText(Path.Combine(shim, "metal_stdlib"), Header);
    }

    private static string Quote(string path) => "\"" + path + "\"";

    private static void RunClang(string arguments, string source)
    {
        var psi = new ProcessStartInfo(ClangPath ?? throw new InvalidOperationException(MissingReason), arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("clang++ did not start");
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"clang++ rejected the MSL ({p.ExitCode}):\n{stderr.Result}\n--- source ---\n{source}");
    }

    private static string? FindClang()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX)) return null;
        string[] names = ["clang++", "clang++-19", "clang++-18", "clang++-17", "clang++-16", "clang++-15", "clang++-14"];
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin");
        foreach (string name in names)
        {
            foreach (string dir in dirs)
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }

        return null;
    }
}
