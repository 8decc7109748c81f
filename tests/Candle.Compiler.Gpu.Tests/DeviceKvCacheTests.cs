using Candle.Runtime;
using Candle.Runtime.Devices;
using Candle.Runtime.Tensors;
using Candle.Transformers.Models.Common;

namespace Candle.Compiler.Gpu.Tests;

/// <summary>
/// <see cref="DeviceKvCache"/> on ILGPU's CPU accelerator holds what the host <see cref="KvCache"/> holds after the same
/// commits: appended entries, rows written elsewhere and copied in, truncation and copying into a larger cache; tensors
/// of the wrong layout or device are refused.
/// </summary>
public sealed class DeviceKvCacheTests
{
    private const int Layers = 2, Batch = 2, KvHeads = 1, HeadDim = 4;

    [Fact]
    public void Commits_on_the_device_leave_the_entries_the_host_cache_holds()
    {
        using var device = new IlgpuCpuDevice();
        var host = new KvCache(Layers, Batch, KvHeads, HeadDim, 8, DType.F32);
        using var cache = new DeviceKvCache(device, Layers, Batch, KvHeads, HeadDim, 8, DType.F32);
        var rng = new Random(3);

        // Three appended positions.
        var keys = Entries(rng, 3);
        var values = Entries(rng, 3);
        host.Commit(keys, values);
        cache.Commit(Up(keys, device), Up(values, device));

        // Two more written into tensors of their own (not the lent rows), so their last rows are copied in.
        var keyRows = Enumerable.Range(0, Layers).Select(l => Grow(host.Keys(l), Entries(rng, 2)[l])).ToList();
        var valueRows = Enumerable.Range(0, Layers).Select(l => Grow(host.Values(l), Entries(rng, 2)[l])).ToList();
        for (int l = 0; l < Layers; l++) Assert.Equal(5, cache.KeyRows(l, 2).Shape[0]);
        host.CommitRows(keyRows, valueRows, 2);
        cache.CommitRows(Up(keyRows, device), Up(valueRows, device), 2);
        Assert.Equal(5, cache.Length);
        AssertSame(host, cache.ToHost());

        // Truncated, then copied into a larger cache.
        host.Truncate(4);
        cache.Truncate(4);
        using var larger = new DeviceKvCache(device, Layers, Batch, KvHeads, HeadDim, 12, DType.F32);
        cache.CopyTo(larger);
        Assert.Equal(4, larger.Length);
        AssertSame(host, larger.ToHost());
    }

    [Fact]
    public void Entries_of_the_wrong_layout_or_device_are_refused()
    {
        using var device = new IlgpuCpuDevice();
        using var cache = new DeviceKvCache(device, Layers, Batch, KvHeads, HeadDim, 4, DType.F32);
        var rng = new Random(4);
        var onHost = Entries(rng, 1).Select(DeviceTensor.OnHost).ToList();
        var e = Assert.Throws<ArgumentException>(() => cache.Commit(onHost, onHost));
        Assert.Contains("is on cpu", e.Message, StringComparison.Ordinal);

        using var wrong = DeviceTensor.Allocate(device, DType.F16, 1, Batch, KvHeads, HeadDim);
        e = Assert.Throws<ArgumentException>(() => cache.Commit([wrong, wrong], [wrong, wrong]));
        Assert.Contains("new keys of layer 0", e.Message, StringComparison.Ordinal);

        var five = Up(Entries(rng, 5), device);
        Assert.Throws<InvalidOperationException>(() => cache.Commit(five, five));
        Assert.Throws<InvalidOperationException>(() => cache.KeyRows(0, 5));
        Assert.Throws<ArgumentException>(() => cache.Commit(five.Take(1).ToList(), five));
        Assert.Equal(0, cache.Length);
    }

    private static List<HostTensor> Entries(Random rng, int n) =>
        [.. Enumerable.Range(0, Layers).Select(_ => HostTensor.FromArray(
            Enumerable.Range(0, n * Batch * KvHeads * HeadDim).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray(), n, Batch, KvHeads, HeadDim))];

    private static List<DeviceTensor> Up(IEnumerable<HostTensor> tensors, IDevice device) => [.. tensors.Select(t => DeviceTensor.Upload(t, device))];

    // The filled rows followed by new ones, in a tensor of its own.
    private static HostTensor Grow(HostTensor filled, HostTensor added)
    {
        var data = filled.ToFloat32().Concat(added.ToFloat32()).ToArray();
        return HostTensor.FromArray(data, filled.Shape[0] + added.Shape[0], Batch, KvHeads, HeadDim);
    }

    private static void AssertSame(KvCache expected, KvCache actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int l = 0; l < Layers; l++)
        {
            Assert.Equal(expected.Keys(l).ToFloat32(), actual.Keys(l).ToFloat32());
            Assert.Equal(expected.Values(l).ToFloat32(), actual.Values(l).ToFloat32());
        }
    }
}
