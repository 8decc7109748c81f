using System.Runtime.InteropServices;
using Candle.Runtime;
using Candle.Runtime.Tensors;
using Candle.Torch.Nn;

namespace Candle.Torch.Tests;

/// <summary>
/// The no-init construction path: modules built under <see cref="Init.SkipInit"/> neither draw from the generator nor
/// allocate their parameters before a state dict replaces them.
/// </summary>
public class SkipInitTests
{
    [Fact]
    public void ParametersAreNeitherDrawnNorAllocatedUntilRead()
    {
        Init.ManualSeed(5);
        Linear skipped;
        using (Init.SkipInit()) skipped = new Linear(300, 200);
        Assert.False(Init.IsSkipping);
        Assert.Equal([200, 300], skipped.Weight.Data.ShapeArray());
        Assert.Equal(DType.F32, skipped.Weight.Data.DType);
        var manager = Assert.IsType<DeferredZeros>(Manager(skipped.Weight.Data));
        Assert.False(manager.IsAllocated);

        // The generator was not used: the next module draws what a fresh seed-5 generator draws first.
        var next = new Linear(3, 2);
        Init.ManualSeed(5);
        var fresh = new Linear(3, 2);
        Assert.Equal(fresh.Weight.Data.AsSpan<float>().ToArray(), next.Weight.Data.AsSpan<float>().ToArray());

        // Read before loading, the parameter is zeros (allocated then).
        Assert.All(skipped.Bias!.Data.AsSpan<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void LoadingReplacesSkippedParametersWithoutTouchingThem()
    {
        Linear layer;
        using (Init.SkipInit()) layer = new Linear(4, 3);
        var w = HostTensor.FromArray(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 3, 4);
        var b = HostTensor.FromArray([1f, 2f, 3f], 3);
        var before = Assert.IsType<DeferredZeros>(Manager(layer.Weight.Data));
        layer.LoadStateDict(new Dictionary<string, HostTensor> { ["weight"] = w, ["bias"] = b });
        Assert.False(before.IsAllocated);
        Assert.Same(w, layer.Weight.Data);
        Assert.Equal([1f, 2f, 3f], layer.Bias!.Data.AsSpan<float>().ToArray());
    }

    private static object? Manager(HostTensor t) =>
        MemoryMarshal.TryGetMemoryManager<byte, DeferredZeros>(t.Data, out var m) ? m : null;
}
