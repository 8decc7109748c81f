using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Candle.Compiler.Tests.Source;

/// <summary>Compiles C# kernel source with Roslyn against the assemblies of this process (Candle.Runtime included).</summary>
internal static class RoslynKernels
{
    /// <summary>The assembly's bytes; fails the test with every error and warning when the source does not compile cleanly.</summary>
    public static byte[] Compile(string source)
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var references = tpa.Split(Path.PathSeparator).Where(File.Exists).Select(p => MetadataReference.CreateFromFile(p)).ToList();
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest));
        var compilation = CSharpCompilation.Create(
            "Candle.Kernels.CSharp." + Guid.NewGuid().ToString("N"),
            [tree],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, optimizationLevel: OptimizationLevel.Release, nullableContextOptions: NullableContextOptions.Enable));
        using var ms = new MemoryStream();
        var result = compilation.Emit(ms);
        var problems = result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(result.Success && problems.Count == 0, "the C# source does not compile cleanly:\n" + string.Join('\n', problems.Take(20)));
        return ms.ToArray();
    }
}
