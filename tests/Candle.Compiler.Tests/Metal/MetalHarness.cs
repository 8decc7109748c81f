using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Backends.Reference;
using Candle.Compiler.Ir;
using Candle.Compiler.Tests.Cpu;
using Candle.Runtime.Tensors;
using Xunit.Abstractions;

namespace Candle.Compiler.Tests.Metal;

/// <summary>Compiles graphs with the Metal backend through the shim and compares them with the reference interpreter.</summary>
internal static class MetalHarness
{
    /// <summary>True (after saying why) when clang++ is missing and the shim tests cannot run.</summary>
    public static bool Missing(ITestOutputHelper output)
    {
        if (MslShim.ClangPath is not null) return false;
        output.WriteLine(MslShim.MissingReason);
        return true;
    }

    /// <summary>Compiles <paramref name="g"/> for Metal (through the shim) at <paramref name="optLevel"/>.</summary>
    public static MetalExecutable Compile(Graph g, int optLevel = 2)
    {
        Verifier.Verify(g);
        return (MetalExecutable)MetalBackend.ThroughShim.Compile(g, new CompileOptions { OptLevel = optLevel });
    }

    /// <summary>Runs the graph at O0 and O2 through the shim and checks both against the reference.</summary>
    public static void Check(Graph g, HostTensor[] inputs, double atol, double rtol)
    {
        var expected = ReferenceInterpreter.Run(g, inputs);
        foreach (int level in new[] { 0, 2 })
        {
            using var exe = Compile(g, level);
            CpuHarness.AssertClose(expected, exe.Run(inputs), atol, rtol, () => $"O{level}\n{exe.Payload.Source}");
        }
    }
}
