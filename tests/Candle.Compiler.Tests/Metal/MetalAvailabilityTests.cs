using Candle.Compiler.Backends;
using Candle.Compiler.Backends.Metal;
using Candle.Compiler.Ir;
using Candle.Runtime;
using Candle.Runtime.Devices.Metal;
using static Candle.Compiler.Ir.IrBuilder;

namespace Candle.Compiler.Tests.Metal;

/// <summary>The names the registry gives Metal and what an unavailable Metal backend says.</summary>
public class MetalAvailabilityTests
{
    [Fact]
    public void MetalIsTheDeviceWhereThereIsOneElseTheShimWhereClangIs()
    {
        Assert.Same(MetalBackend.ThroughShim, BackendRegistry.Get("metal-shim"));
        var metal = BackendRegistry.Get("metal");
        if (MetalDevice.IsSupported) Assert.Same(MetalBackend.Instance, metal);
        else if (MslShim.ClangPath is not null) Assert.Same(MetalBackend.ThroughShim, metal);
        else Assert.Same(MetalBackend.Instance, metal);
        Assert.Contains("metal", BackendRegistry.Names);
    }

    [Fact]
    public void WithoutADeviceTheDeviceBackendNamesWhatIsMissing()
    {
        if (MetalDevice.IsSupported) return;
        var x = Input("x", DType.F32, Shape.Of(3));
        var e = Assert.Throws<BackendUnavailableException>(() => MetalBackend.Instance.Compile(new Graph([x], [Unary(Op.Exp, x)]), CompileOptions.Default));
        Assert.StartsWith("backend 'metal' cannot run on this machine: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(MetalDevice.UnavailableReason, e.Message, StringComparison.Ordinal);
        Assert.Contains(MslShim.ClangPath is null ? MslShim.MissingReason : "'metal-shim'", e.Message, StringComparison.Ordinal);
    }
}
