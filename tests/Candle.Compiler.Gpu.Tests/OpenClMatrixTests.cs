using System.Runtime.CompilerServices;
using Candle.Compiler.Backends;
using Candle.Tests.BackendMatrix;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>The backend matrix on an OpenCL device (a PoCL CPU device on the GPU machine); skipped where there is none.</summary>
public class OpenClMatrixTests
{
    public static TheoryData<string> Cases() => [.. BackendCases.All().Select(c => c.Name)];

    [OpenClTheory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string name)
    {
        var c = BackendCases.All().Single(x => x.Name == name);
        Assert.Null(BackendCases.Check(c, GpuBackends.OpenCL));
    }
}

/// <summary>A theory that is skipped, with the reason, where no OpenCL device that ILGPU supports can be opened.</summary>
public sealed class OpenClTheoryAttribute : TheoryAttribute
{
    public OpenClTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (OpenClDevices.Missing is { } reason) Skip = reason;
    }
}

/// <summary>Whether OpenCL device 0 opens here, once per process.</summary>
internal static class OpenClDevices
{
    private static readonly Lazy<string?> s_missing = new(() =>
    {
        try
        {
            _ = GpuBackend.GetDevice("opencl:0");
            return null;
        }
        catch (BackendUnavailableException e)
        {
            return "no OpenCL device here: " + e.Message;
        }
    });

    /// <summary>Why OpenCL tests cannot run here, or null when device 0 opened.</summary>
    public static string? Missing => s_missing.Value;
}
