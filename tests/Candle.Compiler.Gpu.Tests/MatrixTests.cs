using System.Runtime.CompilerServices;
using Candle.Compiler.Backends;
using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using Candle.Tests.BackendMatrix;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>The GPU kernels run on ILGPU's CPU accelerator: the backend matrix against the reference interpreter.</summary>
public class IlgpuCpuMatrixTests : BackendMatrixTests
{
    protected override IBackend Backend => GpuBackends.IlgpuCpu;
}

/// <summary>The matrix on a CUDA device; skipped where there is none.</summary>
public class CudaMatrixTests
{
    public static TheoryData<string> Cases() => [.. BackendCases.All().Select(c => c.Name)];

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReference(string name)
    {
        var c = BackendCases.All().Single(x => x.Name == name);
        Assert.Null(BackendCases.Check(c, GpuBackends.Cuda));
    }
}

/// <summary>A theory that is skipped, with the reason, where no CUDA device can be opened.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (CudaDevices.Missing is { } reason) Skip = reason;
    }
}

/// <summary>A fact that is skipped, with the reason, where no CUDA device can be opened.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (CudaDevices.Missing is { } reason) Skip = reason;
    }
}

/// <summary>Whether CUDA device 0 opens here, once per process.</summary>
internal static class CudaDevices
{
    private static readonly Lazy<string?> s_missing = new(() =>
    {
        try
        {
            _ = GpuBackend.GetDevice("cuda:0");
            return null;
        }
        catch (BackendUnavailableException e)
        {
            return "no CUDA device here: " + e.Message;
        }
    });

    /// <summary>Why CUDA tests cannot run here, or null when device 0 opened.</summary>
    public static string? Missing => s_missing.Value;
}

/// <summary>Devices: resident tensors, weights shared between plans, and the errors for what is missing.</summary>
public class DeviceTests
{
    [Fact]
    public void MissingDevicesRaiseBackendUnavailableNamingWhatIsMissing()
    {
        var e = Record.Exception(() => GpuDevice.Open("cuda:7"));
        if (e is null) return;
        var u = Assert.IsType<BackendUnavailableException>(e);
        Assert.Contains("CUDA", u.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cuda:x")]
    [InlineData("vulkan")]
    [InlineData("ilgpu-cpu:1")]
    public void MalformedDeviceSpecsAreRejected(string spec) =>
        Assert.Throws<ArgumentException>(() => GpuDevice.Open(spec));

    [Fact]
    public void DeviceFlagResolvesToBackendAndDevice()
    {
        Assert.Equal("cpu", GpuBackends.Resolve("cpu").Backend.Name);
        var (b, d) = GpuBackends.Resolve("cuda:1");
        Assert.Equal("cuda", b.Name);
        Assert.Equal("cuda:1", d);
        GpuBackends.Register();
        Assert.Same(GpuBackends.OpenCL, BackendRegistry.Get("opencl"));
    }

    [Fact]
    public void UploadDownloadRoundTripsAndDecodeStateStaysResident()
    {
        var dev = GpuBackend.GetDevice("ilgpu-cpu");
        var host = HostTensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        using var t = DeviceTensor.Upload(host, dev);
        Assert.Equal([1f, 2f, 3f, 4f], t.Download().AsSpan<float>().ToArray());

        // A donated cache updated in place across two calls without leaving the device.
        var cache = Ir.IrBuilder.DonatedInput("cache", DType.F32, Ir.Shape.Of(4, 2));
        var entry = Ir.IrBuilder.Input("entry", DType.F32, Ir.Shape.Of(1, 2));
        var pos = Ir.Dim.Sym("pos");
        var posIn = Ir.IrBuilder.Input("p", DType.F32, new Ir.Shape(pos));
        var g = new Ir.Graph([cache, entry, posIn], [Ir.IrBuilder.SliceScatter(cache, entry, 0, pos)], ["present"]);
        using var exe = (GpuExecutable)CandleCompiler.CompileExecutable(g, new CompileOptions { Backend = GpuBackends.IlgpuCpu });
        using var c = DeviceTensor.Upload(HostTensor.Zeros(DType.F32, 4, 2), dev);
        for (int step = 0; step < 2; step++)
        {
            using var e = DeviceTensor.Upload(HostTensor.FromArray([step + 1f, step + 1f], 1, 2), dev);
            using var p = DeviceTensor.Upload(HostTensor.Zeros(DType.F32, step), dev);
            var outs = exe.RunOnDevice([c, e, p]);
            Assert.Same(c.Buffer, outs[0].Buffer);
        }

        Assert.Equal([1f, 1f, 2f, 2f, 0f, 0f, 0f, 0f], c.Download().AsSpan<float>().ToArray());
    }
}

/// <summary>Convolutions on ILGPU's CPU accelerator, CUDA and OpenCL against the reference interpreter.</summary>
public class ConvolutionMatrixTests
{
    public static TheoryData<string> Cases() => [.. BackendCases.Convolutions().Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void IlgpuCpuMatchesTheReference(string name) =>
        Assert.Null(BackendCases.Check(BackendCases.Convolutions().Single(x => x.Name == name), GpuBackends.IlgpuCpu));

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesTheReference(string name) =>
        Assert.Null(BackendCases.Check(BackendCases.Convolutions().Single(x => x.Name == name), GpuBackends.Cuda));

    [OpenClTheory]
    [MemberData(nameof(Cases))]
    public void OpenClMatchesTheReference(string name) =>
        Assert.Null(BackendCases.Check(BackendCases.Convolutions().Single(x => x.Name == name), GpuBackends.OpenCL));
}
